/**
 * A function calling one of this project's functions, itself included: `POST <SUPABASE_URL>/functions/v1/<name>`
 * in the background, with the kick secret as bearer token, as the tier-outbox drainer's kick does (config.toml sets
 * `verify_jwt = false`; each function checks the secret itself). Used to hand the rest of a batch on to a
 * fresh invocation with a fresh wall clock. Never throws, never reports the secret.
 *
 * @module
 */
import fetchBuilder from "fetch-retry";
import type { Config } from "../config.ts";
import type { FunctionName } from "./schemas.ts";
import { BACKOFF, backoffDelayMs } from "../backoff.ts";

/** Timeout of the whole call, retries included. The callee answers 202 at once when it runs in the background. */
const INVOKE_TIMEOUT_MS = 10_000;
/** Retries of an attempt that never reached the function. */
const MAX_RETRIES = 2;
/** Answers meaning the request never ran: the gateway or the worker failed before the handler (hosted's
 * 502/503/504, 546 `WORKER_LIMIT` from a worker ended under the request). */
const NOT_RUN_STATUSES = [502, 503, 504, 546];

/** What a {@link invokeFunction} call ended with. */
export type InvokeResult =
  | { readonly ok: true; readonly status: number; readonly body: unknown }
  | { readonly ok: false; readonly status?: number; readonly error: string };

/** Options of {@link invokeFunction}. */
export interface InvokeOptions {
  /** The function to call. */
  readonly name: FunctionName;
  /** JSON body of the POST. */
  readonly body: unknown;
  /** fetch implementation (tests). Default the global fetch. */
  readonly fetch?: typeof fetch;
}

/** `text` parsed as JSON, or the text itself when it is not JSON (null when empty). */
function parsedOrText(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The URL of function `name` under the project URL. */
export function functionUrl(supabaseUrl: string, name: FunctionName): string {
  return `${supabaseUrl.replace(/\/+$/, "")}/functions/v1/${name}`;
}

/**
 * POSTs `body` to function `name` of this project with the kick secret (a background call), retrying (twice, after 0.5 s
 * and 1 s) when no handler ran: a network failure or a 502/503/504/546. Resolves to the answer's status and
 * JSON body when it is a 2xx, else to what went wrong (the status, or the network error's message).
 */
export async function invokeFunction(
  config: Pick<Config, "supabaseUrl" | "kickSecret">,
  options: InvokeOptions,
): Promise<InvokeResult> {
  const retrying = fetchBuilder(options.fetch ?? fetch);
  try {
    const response = await retrying(functionUrl(config.supabaseUrl, options.name), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${config.kickSecret}` },
      body: JSON.stringify(options.body),
      signal: AbortSignal.timeout(INVOKE_TIMEOUT_MS),
      retryOn: async (attempt: number, error: Error | null, response: Response | null) => {
        if (attempt >= MAX_RETRIES || (error?.name === "TimeoutError")) return false;
        const retry = error !== null || NOT_RUN_STATUSES.includes(response?.status ?? 0);
        if (retry) await response?.body?.cancel();
        return retry;
      },
      retryDelay: (attempt: number) => backoffDelayMs(BACKOFF.selfInvoke, attempt),
    });
    const text = await response.text();
    if (!response.ok) return { ok: false, status: response.status, error: `answered ${response.status}` };
    return { ok: true, status: response.status, body: parsedOrText(text) };
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).replaceAll(
      config.kickSecret,
      "[REDACTED]",
    );
    return { ok: false, error: message };
  }
}
