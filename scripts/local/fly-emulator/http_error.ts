/** An error answer of the emulated API: `{error, status?}` with an HTTP status. */
export class FlyHttpError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** The body's `status` field (`name_taken`, ...), if any. */
  readonly flyStatus?: string;

  /** Builds the answer; `message` becomes the body's `error` field. */
  constructor(status: number, message: string, flyStatus?: string) {
    super(message);
    this.status = status;
    this.flyStatus = flyStatus;
  }

  /** The JSON body. */
  body(): { error: string; status?: string } {
    return this.flyStatus ? { error: this.message, status: this.flyStatus } : { error: this.message };
  }
}

/** 400 `invalid_argument: ...`. */
export function invalidArgument(message: string): FlyHttpError {
  return new FlyHttpError(400, `invalid_argument: ${message}`);
}

/** 404 `not_found: ...`. */
export function notFound(what: string): FlyHttpError {
  return new FlyHttpError(404, `not_found: ${what} not found`);
}

/** 412 `failed_precondition: ...`. */
export function failedPrecondition(message: string): FlyHttpError {
  return new FlyHttpError(412, `failed_precondition: ${message}`);
}
