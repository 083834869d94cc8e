/**
 * Checks recorded exchanges against the OpenAPI spec (`../fixtures/fly-machines-openapi.json`, a copy of
 * `shared/reference/fly-machines-openapi.json`): query parameters and request bodies the client sends against
 * the operation's parameters and request schema, response bodies against the response schemas of their status,
 * undeclared error statuses against `ErrorResponse`.
 *
 * Where the real API is known to differ from its spec, the difference is listed in {@link SPEC_EXCEPTIONS}:
 * here and nowhere else.
 */
import { Ajv2020 } from "ajv/dist/2020.js";

const spec = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/fly-machines-openapi.json", import.meta.url)),
) as { paths: Record<string, Record<string, OperationSpec>> };

interface ParameterSpec {
  name: string;
  in: string;
  required?: boolean;
  schema?: { type?: string };
}

interface OperationSpec {
  operationId: string;
  parameters?: ParameterSpec[];
  requestBody?: { content?: Record<string, unknown> };
  responses: Record<string, { content?: Record<string, unknown> }>;
}

/** One request/response pair seen on the wire. */
export interface Exchange {
  readonly method: string;
  readonly path: string;
  /** Query parameters in order (repeated names repeat). */
  readonly query?: readonly (readonly [string, string])[];
  readonly requestBody?: unknown;
  /** Undefined when the connection was cut before a whole answer arrived. */
  readonly status?: number;
  readonly responseBody?: unknown;
}

type Json = unknown;

/** A documented difference between the spec and the real API, and how the check accounts for it. */
interface SpecException {
  /** Why: what the real API does, with the source from the reference notes. */
  readonly reason: string;
  /** Rewrites a documented-reality response body into the spec's shape before validation. */
  readonly response?: (body: Json) => Json;
  /** Rewrites a request body the client sends per reality into the spec's shape. */
  readonly request?: (body: Json) => Json;
  /** Query parameters the client sends per reality that the spec does not declare. */
  readonly query?: readonly string[];
}

const unwrapLeaseEnvelope = (body: Json) => (body as { data?: unknown }).data;
const okBodyWhereSpecHasNone = (body: Json) => {
  if (JSON.stringify(body) !== JSON.stringify({ ok: true })) {
    throw new Error(`expected {"ok":true}, got ${body}`);
  }
  return undefined;
};

/** Boolean `autostop` in answers: the spec's enum is "off" | "stop" | "suspend". */
function autostopAsSpec(body: Json): Json {
  const fix = (machine: Json) => {
    const services = (machine as { config?: { services?: { autostop?: unknown }[] } })?.config?.services ??
      [];
    for (const service of services) {
      if (service.autostop === false) service.autostop = "off";
      if (service.autostop === true) service.autostop = "stop";
    }
    return machine;
  };
  return Array.isArray(body) ? body.map(fix) : fix(body);
}

/** Every spec-vs-reality difference the client and the emulator rely on (notes §1 table and §2.3). */
export const SPEC_EXCEPTIONS: Readonly<Record<string, SpecException>> = {
  "Machines_create_lease response": {
    reason: "leases come in a {status, data} envelope (docs _machines_lease_*_resp.erb, fly-go MachineLease)",
    response: unwrapLeaseEnvelope,
  },
  "Machines_show_lease response": {
    reason: "leases come in a {status, data} envelope (docs _machines_lease_*_resp.erb, fly-go MachineLease)",
    response: unwrapLeaseEnvelope,
  },
  "Machines_release_lease response": {
    reason: 'release answers {"status":"success","data":{"ok":true}} where the spec declares no body',
    response: (body) => {
      if ((body as { data?: { ok?: boolean } }).data?.ok !== true) throw new Error("expected data.ok");
      return undefined;
    },
  },
  "Machines_start response": {
    reason:
      "start answers {previous_state, migrated, new_host} (docs _machines_start_resp.erb); spec: no body",
    response: () => undefined,
  },
  "Machines_stop response": {
    reason: "answers {ok: true} (docs); spec: no body",
    response: okBodyWhereSpecHasNone,
  },
  "Machines_suspend response": {
    reason: "answers {ok: true} (docs); spec: no body",
    response: okBodyWhereSpecHasNone,
  },
  "Machines_restart response": {
    reason: "answers {ok: true} (docs); spec: no body",
    response: okBodyWhereSpecHasNone,
  },
  "Machines_cordon response": {
    reason: "answers {ok: true} (docs); spec: no body",
    response: okBodyWhereSpecHasNone,
  },
  "Machines_uncordon response": {
    reason: "answers {ok: true} (docs); spec: no body",
    response: okBodyWhereSpecHasNone,
  },
  "Machines_delete response": {
    reason: "answers {ok: true} (docs); spec: no body",
    response: okBodyWhereSpecHasNone,
  },
  "Machines_create response": {
    reason: "autostop is a boolean in answers (spec text)",
    response: autostopAsSpec,
  },
  "Machines_show response": {
    reason: "autostop is a boolean in answers (spec text)",
    response: autostopAsSpec,
  },
  "Machines_list response": {
    reason: "autostop is a boolean in answers (spec text)",
    response: autostopAsSpec,
  },
  "Machines_update response": {
    reason: "autostop is a boolean in answers (spec text)",
    response: autostopAsSpec,
  },
  "Machines_delete query": {
    reason:
      "fly-go, flyctl and fly-admin send kill=true where the spec and docs say force=true; we send both",
    query: ["kill"],
  },
  "Apps_delete query": {
    reason:
      'docs apps-resource: "?force=true" stops all machines and deletes at once; the spec has no parameter',
    query: ["force"],
  },
  "Machines_create_lease query": {
    reason: "fly-go sends the TTL as ?ttl=N (flaps_machines.go AcquireLease); the spec has it in the body",
    query: ["ttl"],
  },
  "Secrets_update request": {
    reason: "null unsets a secret (fly-go secrets_types.go); the spec types values as strings",
    request: (body) => ({
      values: Object.fromEntries(
        Object.entries((body as { values: Record<string, unknown> }).values).filter(([, value]) =>
          value !== null
        ),
      ),
    }),
  },
};

const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema(spec, "spec.json");

function pointer(...segments: string[]): string {
  return segments.map((segment) => segment.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");
}

function validator(...segments: string[]) {
  const ref = `spec.json#/${pointer(...segments)}`;
  return ajv.compile({ $ref: ref });
}

interface MatchedOperation {
  readonly template: string;
  readonly method: string;
  readonly operation: OperationSpec;
}

const routes = Object.entries(spec.paths).flatMap(([template, methods]) =>
  Object.entries(methods).filter(([, operation]) =>
    typeof operation === "object" && "operationId" in operation
  )
    .map(([method, operation]) => ({
      template,
      method: method.toUpperCase(),
      operation,
      pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`),
    }))
);

function matchOperation(method: string, path: string): MatchedOperation | undefined {
  return routes.find((route) => route.method === method && route.pattern.test(path));
}

function errorsOf(validate: ReturnType<typeof validator>, body: unknown): string | undefined {
  return validate(body) ? undefined : ajv.errorsText(validate.errors);
}

const QUERY_VALUE_PATTERNS: Readonly<Record<string, RegExp>> = {
  boolean: /^(true|false)$/,
  integer: /^-?\d+$/,
  number: /^-?\d+(\.\d+)?$/,
};

/** The declared query parameter `name` matches (`metadata.{key}` matches every `metadata.<key>`). */
function declaredParameter(operation: OperationSpec, name: string): ParameterSpec | undefined {
  return operation.parameters?.find((parameter) =>
    parameter.in === "query" &&
    (parameter.name === name ||
      (parameter.name.endsWith(".{key}") && name.startsWith(parameter.name.slice(0, -"{key}".length))))
  );
}

/** Problems of a request's query string: undeclared names (unless excepted), ill-typed values, missing ones. */
function queryViolations(operation: OperationSpec, query: readonly (readonly [string, string])[]): string[] {
  const allowed = SPEC_EXCEPTIONS[`${operation.operationId} query`]?.query ?? [];
  const problems: string[] = [];
  for (const [name, value] of query) {
    const parameter = declaredParameter(operation, name);
    if (!parameter) {
      if (!allowed.includes(name)) problems.push(`query parameter '${name}' is not in the spec`);
      continue;
    }
    const pattern = QUERY_VALUE_PATTERNS[parameter.schema?.type ?? ""];
    if (pattern && !pattern.test(value)) {
      problems.push(`query parameter '${name}=${value}' is not a ${parameter.schema?.type}`);
    }
  }
  for (const parameter of operation.parameters ?? []) {
    if (parameter.in === "query" && parameter.required && !query.some(([name]) => name === parameter.name)) {
      problems.push(`required query parameter '${parameter.name}' is missing`);
    }
  }
  return problems;
}

/** Problems of one exchange (empty when it conforms, after the listed exceptions). */
export function specViolations(exchange: Exchange, checkRequest: boolean): string[] {
  const matched = matchOperation(exchange.method, exchange.path);
  if (!matched) return [`${exchange.method} ${exchange.path}: no such operation in the spec`];
  const { template, operation } = matched;
  const method = matched.method.toLowerCase();
  const id = operation.operationId;
  const problems: string[] = [];
  const label = `${id} (${exchange.method} ${exchange.path})`;

  if (checkRequest) {
    problems.push(
      ...queryViolations(operation, exchange.query ?? []).map((problem) => `${label}: ${problem}`),
    );
  }
  if (checkRequest && exchange.requestBody !== undefined) {
    if (!operation.requestBody?.content?.["application/json"]) {
      problems.push(`${label}: the spec has no request body`);
    } else {
      const body = SPEC_EXCEPTIONS[`${id} request`]?.request?.(exchange.requestBody) ?? exchange.requestBody;
      const error = errorsOf(
        validator("paths", template, method, "requestBody", "content", "application/json", "schema"),
        body,
      );
      if (error) problems.push(`${label} request: ${error}`);
    }
  }

  if (exchange.status === undefined) return problems;
  const status = String(exchange.status);
  const declared = operation.responses[status];
  if (exchange.status >= 400 && !declared?.content) {
    const error = errorsOf(validator("components", "schemas", "ErrorResponse"), exchange.responseBody);
    if (error) problems.push(`${label} ${status}: ${error}`);
    return problems;
  }
  if (!declared) return [...problems, `${label}: status ${status} is not in the spec`];
  let body = exchange.responseBody;
  const exception = SPEC_EXCEPTIONS[`${id} response`];
  if (exception?.response && exchange.status < 300) {
    try {
      body = exception.response(structuredClone(body));
    } catch (error) {
      return [...problems, `${label}: ${(error as Error).message}`];
    }
  }
  if (!declared.content?.["application/json"]) {
    if (body !== undefined) problems.push(`${label} ${status}: a body where the spec declares none`);
    return problems;
  }
  const error = errorsOf(
    validator("paths", template, method, "responses", status, "content", "application/json", "schema"),
    body,
  );
  if (error) problems.push(`${label} ${status}: ${error}`);
  return problems;
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Wraps fetch to record every exchange with the emulator's `/v1` API. */
export class SpecRecorder {
  /** What went over the wire, in order. */
  readonly exchanges: { exchange: Exchange; checkRequest: boolean }[] = [];

  /** A fetch that records; requests sent through it are checked against the request schemas. */
  readonly fetch: typeof fetch = (input, init) => this.#record(input, init, true);

  /** A fetch that records only the answers (for deliberately off-spec requests in tests). */
  readonly fetchUnchecked: typeof fetch = (input, init) => this.#record(input, init, false);

  async #record(input: RequestInfo | URL, init: RequestInit | undefined, checkRequest: boolean) {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const requestText = init?.body === undefined || init.body === null ? "" : String(init.body);
    const response = await fetch(input, init);
    const responseText = await response.clone().text().catch(() => undefined);
    if (url.pathname.startsWith("/v1/")) {
      const cutMidAnswer = responseText === undefined;
      this.exchanges.push({
        exchange: {
          method: request.method,
          path: url.pathname,
          query: [...url.searchParams],
          requestBody: parseJson(requestText),
          status: cutMidAnswer ? undefined : response.status,
          responseBody: cutMidAnswer ? undefined : parseJson(responseText),
        },
        checkRequest,
      });
    }
    return response;
  }

  /** Every violation across the recorded exchanges. */
  violations(): string[] {
    return this.exchanges.flatMap(({ exchange, checkRequest }) => specViolations(exchange, checkRequest));
  }
}
