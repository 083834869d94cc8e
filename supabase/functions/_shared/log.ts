/**
 * Structured JSON logs, one line per entry, with secrets redacted.
 *
 * Redaction happens twice: by key name (any field whose name looks like a credential) and by value (every
 * occurrence of a known secret value inside any string, e.g. a token echoed in an upstream error message).
 * Errors are logged as `{name, message}` only: no stack traces.
 *
 * @module
 */

/** Log levels, from most to least verbose. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Structured fields attached to a log entry. */
export type LogFields = Record<string, unknown>;

/** A structured logger. `child` returns a logger that adds `fields` to every entry. */
export interface Logger {
  /** Log at level `debug`. */
  debug(msg: string, fields?: LogFields): void;
  /** Log at level `info`. */
  info(msg: string, fields?: LogFields): void;
  /** Log at level `warn`. */
  warn(msg: string, fields?: LogFields): void;
  /** Log at level `error`. */
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every entry it writes. */
  child(fields: LogFields): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Entries below this level are dropped. Default `info`. */
  readonly level?: LogLevel;
  /** Known secret values, replaced wherever they occur in logged strings. */
  readonly secrets?: readonly string[];
  /** Fields added to every entry. */
  readonly fields?: LogFields;
  /** Where a finished line goes. Default: `console.error` for warn/error, `console.log` otherwise. */
  readonly sink?: (line: string, level: LogLevel) => void;
  /** Clock, for tests. Default `() => new Date()`. */
  readonly now?: () => Date;
}

/** Replacement text for a redacted value. */
export const REDACTED = "[REDACTED]";

/** Known secret values shorter than this are not searched for in strings (they would shred ordinary text). */
const MIN_SECRET_VALUE_LENGTH = 6;

/** Field names whose values are redacted (numbers and booleans excepted, e.g. `secrets_version`). */
const SECRET_KEY_PATTERN =
  /secret|token|passw|pwd|api[-_]?key|authorization|cookie|credential|private[-_]?key|signature|db[-_]?url|dsn/i;

/** Credentials in well-known textual forms, redacted even when the value is not a known secret. */
const CREDENTIAL_TEXT_PATTERNS: readonly (readonly [RegExp, string])[] = [
  [/\b(Bearer|FlyV1)\s+[^\s"',]+/gi, `$1 ${REDACTED}`],
  [/(postgres(?:ql)?:\/\/[^:/?#@\s]+:)[^@/?#\s]+@/gi, `$1${REDACTED}@`],
];

/** How deep {@link redact} descends into nested values before giving up. */
const MAX_DEPTH = 8;

/** Escape a string for use as a literal inside a RegExp. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A function that redacts `value` (deeply): fields with credential-like names, known secret values inside
 * strings, bearer tokens and passwords in postgres URLs. Errors become `{name, message}`. Never mutates input.
 */
export function createRedactor(secrets: readonly string[] = []): (value: unknown) => unknown {
  const known = [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_VALUE_LENGTH)
    .sort((a, b) => b.length - a.length);
  const knownPattern = known.length > 0 ? new RegExp(known.map(escapeRegExp).join("|"), "g") : undefined;

  const redactText = (text: string): string => {
    let out = knownPattern ? text.replace(knownPattern, REDACTED) : text;
    for (const [pattern, replacement] of CREDENTIAL_TEXT_PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };

  const walk = (value: unknown, depth: number, seen: WeakSet<object>): unknown => {
    if (typeof value === "string") return redactText(value);
    if (typeof value === "bigint") return value.toString();
    if (value === null || typeof value !== "object") return value;
    if (seen.has(value)) return "[Circular]";
    if (depth >= MAX_DEPTH) return "[Truncated]";
    seen.add(value);
    if (value instanceof Error) {
      return { name: value.name, message: redactText(value.message) };
    }
    if (value instanceof Date) return value.toISOString();
    if (Array.isArray(value)) return value.map((item) => walk(item, depth + 1, seen));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const hidden = SECRET_KEY_PATTERN.test(key) && typeof item !== "number" && typeof item !== "boolean";
      out[key] = hidden ? REDACTED : walk(item, depth + 1, seen);
    }
    return out;
  };

  return (value) => walk(value, 0, new WeakSet());
}

/** Default destination of log lines: stderr for warn/error, stdout otherwise. */
function consoleSink(line: string, level: LogLevel): void {
  if (level === "warn" || level === "error") console.error(line);
  else console.log(line);
}

/** Create a structured JSON logger; see {@link LoggerOptions}. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const minRank = LOG_LEVELS.indexOf(options.level ?? "info");
  const redact = createRedactor(options.secrets);
  const sink = options.sink ?? consoleSink;
  const now = options.now ?? (() => new Date());

  const make = (bound: LogFields): Logger => {
    const write = (level: LogLevel, msg: string, fields?: LogFields): void => {
      if (LOG_LEVELS.indexOf(level) < minRank) return;
      const head = { ts: now().toISOString(), level, msg };
      sink(JSON.stringify(redact(Object.assign({ ...head }, bound, fields, head))), level);
    };
    return {
      debug: (msg, fields) => write("debug", msg, fields),
      info: (msg, fields) => write("info", msg, fields),
      warn: (msg, fields) => write("warn", msg, fields),
      error: (msg, fields) => write("error", msg, fields),
      child: (fields) => make({ ...bound, ...fields }),
    };
  };
  return make(options.fields ?? {});
}
