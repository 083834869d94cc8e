import { assert, assertEquals } from "../_support/assert.ts";
import {
  createLogger,
  createRedactor,
  type LogLevel,
  REDACTED,
} from "../../supabase/functions/_shared/log.ts";

const TOKEN = "fo1_known-token-value";

/** A logger writing into an array, at a fixed clock. */
function capture(level: LogLevel = "info", secrets: string[] = [TOKEN]) {
  const lines: { line: string; level: LogLevel }[] = [];
  const log = createLogger({
    level,
    secrets,
    fields: { function: "f" },
    sink: (line, at) => lines.push({ line, level: at }),
    now: () => new Date("2026-01-02T03:04:05.000Z"),
  });
  return { log, lines, entries: () => lines.map((l) => JSON.parse(l.line)) };
}

Deno.test("redact: credential-like keys are hidden at any depth; numbers and booleans stay", () => {
  const redact = createRedactor();
  const out = redact({
    password: "hunter2",
    nested: { FLY_API_TOKEN: "t", apiKey: "k", "api-key": "k", Authorization: "Bearer x" },
    list: [{ client_secret: "s" }],
    secrets_version: 4,
    has_token: true,
    user_id: "u",
  });
  assertEquals(out, {
    password: REDACTED,
    nested: { FLY_API_TOKEN: REDACTED, apiKey: REDACTED, "api-key": REDACTED, Authorization: REDACTED },
    list: [{ client_secret: REDACTED }],
    secrets_version: 4,
    has_token: true,
    user_id: "u",
  });
});

Deno.test("redact: known secret values are replaced inside any string, longest first", () => {
  const redact = createRedactor([TOKEN, `${TOKEN}-longer`, "abc"]);
  assertEquals(
    redact({ message: `fly said: invalid ${TOKEN}-longer and ${TOKEN}`, short: "abc stays (too short)" }),
    { message: `fly said: invalid ${REDACTED} and ${REDACTED}`, short: "abc stays (too short)" },
  );
});

Deno.test("redact: bearer tokens and postgres passwords in free text", () => {
  const redact = createRedactor();
  assertEquals(
    redact("sent Authorization: Bearer abc.def.ghi to postgresql://postgres:p%40ss@db:5432/postgres"),
    `sent Authorization: Bearer ${REDACTED} to postgresql://postgres:${REDACTED}@db:5432/postgres`,
  );
  const flyScheme = "FlyV1";
  assertEquals(redact(`${flyScheme} fm2_xyz,rest`), `${flyScheme} ${REDACTED},rest`);
});

Deno.test("redact: errors become name and message only; cycles and bigints are safe", () => {
  const redact = createRedactor([TOKEN]);
  const cyclic: Record<string, unknown> = { n: 1n };
  cyclic.self = cyclic;
  assertEquals(redact({ error: new TypeError(`bad ${TOKEN}`), cyclic }), {
    error: { name: "TypeError", message: `bad ${REDACTED}` },
    cyclic: { n: "1", self: "[Circular]" },
  });
});

Deno.test("logger: one JSON line per entry with ts, level, msg, bound and given fields", () => {
  const { log, lines, entries } = capture();
  log.child({ request_id: "r1" }).info("hello", { count: 2 });
  assertEquals(lines.length, 1);
  assertEquals(entries(), [{
    ts: "2026-01-02T03:04:05.000Z",
    level: "info",
    msg: "hello",
    function: "f",
    request_id: "r1",
    count: 2,
  }]);
});

Deno.test("logger: fields cannot overwrite ts, level or msg", () => {
  const { log, entries } = capture();
  log.warn("real", { msg: "fake", level: "debug", ts: "then" });
  const [entry] = entries();
  assertEquals([entry.msg, entry.level, entry.ts], ["real", "warn", "2026-01-02T03:04:05.000Z"]);
});

Deno.test("logger: entries below the level are dropped; warn and error keep their level", () => {
  const { log, lines } = capture("warn");
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  assertEquals(lines.map((l) => l.level), ["warn", "error"]);
});

Deno.test("logger: known secrets are redacted from the message and fields", () => {
  const { log, lines } = capture();
  log.error(`failed with ${TOKEN}`, { detail: { body: `echo ${TOKEN}` }, token: "anything" });
  assert(!lines[0].line.includes(TOKEN), lines[0].line);
  assert(lines[0].line.includes(REDACTED));
});
