/**
 * The CLI's failures and their exit codes: 1 the operation failed, 2 usage error (bad arguments, a missing
 * variable, input the API rejected), 3 the functions cannot be reached or do not accept the secret. Each
 * carries a one-line message; nothing prints a stack trace.
 *
 * @module
 */

/** Exit codes of `deno task ops`. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

/** A failure the CLI reports as one line and exits with `exitCode`. */
export class CliError extends Error {
  /** The process exit code. */
  readonly exitCode: number;

  /** An error with its exit code. */
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** Exit 2: the command line or the environment is incomplete or wrong. */
export class UsageError extends CliError {
  /** A usage error. */
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = "UsageError";
  }
}

/** Exit 3: the functions could not be reached, or refused the provisioner secret. */
export class UnreachableError extends CliError {
  /** An unreachable or unauthorised error. */
  constructor(message: string) {
    super(message, EXIT.unreachable);
    this.name = "UnreachableError";
  }
}

/** Exit 1: the functions answered that the operation failed (HTTP status and the API's error, if any). */
export class OperationError extends CliError {
  /** The HTTP status of the answer (0: the failure is the CLI's verdict, e.g. a doctor check, not an answer). */
  readonly status: number;
  /** The answer's body, when it was JSON. */
  readonly body: unknown;

  /** An operation error from an answer. */
  constructor(message: string, status: number, body: unknown) {
    super(message, EXIT.failed);
    this.name = "OperationError";
    this.status = status;
    this.body = body;
  }
}
