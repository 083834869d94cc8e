/**
 * Assertions for the deno tests. Node's `node:assert` is built into Deno and needs no download
 * (the Deno std library lives on JSR, which the build machines cannot reach).
 */
import nodeAssert from "node:assert/strict";

/** Fails unless `value` is truthy. */
export function assert(value: unknown, message?: string): asserts value {
  nodeAssert.ok(value, message);
}

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Fails unless `fn` rejects with an instance of `errorClass` whose message includes `includes`. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  errorClass: abstract new (...args: never[]) => Error = Error,
  includes?: string,
): Promise<Error> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  nodeAssert.ok(caught instanceof errorClass, `expected a rejection with ${errorClass.name}, got ${caught}`);
  if (includes) {
    nodeAssert.ok(
      (caught as Error).message.includes(includes),
      `expected "${(caught as Error).message}" to include "${includes}"`,
    );
  }
  return caught as Error;
}
