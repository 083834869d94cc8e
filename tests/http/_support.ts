/**
 * Shared fixtures of the http tests: a complete test environment, an app built from it with recording
 * handlers and captured log lines, and request helpers.
 */
import type { Context } from "hono";
import { createFunctionApp, type PostInput } from "../../supabase/functions/_shared/http/app.ts";
import type { AppEnv } from "../../supabase/functions/_shared/http/env.ts";
import type { FunctionName } from "../../supabase/functions/_shared/http/schemas.ts";

/** The admin secret (PROVISIONER_SECRET) of the test environment. */
export const SECRET = "test-provisioner-secret-0123456789";
/** The kick secret of the test environment (what the database holds). */
export const KICK_SECRET = "test-kick-secret-0123456789";
/** The (public) anon key of the test environment. */
export const ANON_KEY = "anon-key-eyJhbGciOiJIUzI1NiJ9.public";
/** The Fly token of the test environment (Fly's `FlyV1 <macaroon>` shape; assembled so no scanner mistakes it
 * for a real credential). */
export const FLY_TOKEN = ["FlyV1", "fm2_test-fly-token-abcdef"].join(" ");
/** A value passed to user apps as a secret. */
export const OPENAI_KEY = "sk-test-openai-key-987654";

/** A complete, valid environment. */
export const TEST_ENV: Readonly<Record<string, string>> = {
  FLY_API_TOKEN: FLY_TOKEN,
  FLY_ORG_SLUG: "test-org",
  FLY_API_BASE_URL: "http://127.0.0.1:4280",
  FLY_DEFAULT_REGION: "sin",
  FLY_APP_IMAGE: "registry.example.com/backend:1.2.3",
  PROVISIONER_SECRET: SECRET,
  KICK_SECRET,
  FLY_APP_NAME_KEY: "test-app-name-key-0123456789",
  SUPABASE_URL: "http://127.0.0.1:54321",
  SUPABASE_DB_URL: "postgresql://postgres:db-password-xyz@127.0.0.1:5432/postgres",
  SUPABASE_ANON_KEY: ANON_KEY,
  OPENAI_API_KEY: OPENAI_KEY,
  FLY_APP_SECRETS: "SUPABASE_URL,OPENAI_API_KEY",
};

/** A valid user id. */
export const USER_ID = "7b0c4f8e-2d3a-4e5b-9c6d-0a1b2c3d4e5f";

/** What the recording handlers saw. */
export interface Calls {
  post: PostInput<FunctionName>[];
  get: unknown[];
}

/** An app for `name` whose handlers record their input and answer 200, plus its log lines. */
export function testApp(
  name: FunctionName = "provision-user-fly-app",
  options: { env?: Record<string, string>; post?: (c: Context<AppEnv>) => Response | Promise<Response> } = {},
) {
  const calls: Calls = { post: [], get: [] };
  const logs: string[] = [];
  const app = createFunctionApp({
    name,
    env: options.env ?? { ...TEST_ENV },
    logSink: (line) => logs.push(line),
    handlers: {
      post: (input, c) => {
        calls.post.push(input);
        return options.post ? options.post(c) : c.json({ ok: true });
      },
      get: (query, c) => {
        calls.get.push(query);
        return c.json({ ok: true });
      },
    },
  });
  return { app, calls, logs };
}

/** A request to `path` with the secret as bearer token and a body as JSON (override with `headers`). */
export function request(
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Request {
  return new Request(`http://functions.local${path}`, {
    method: init.method ?? "POST",
    body: init.body,
    headers: {
      authorization: `Bearer ${SECRET}`,
      ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      ...init.headers,
    },
  });
}

/** The `error` object of a JSON error response. */
export async function errorOf(res: Response): Promise<{ code: string; message: string; field?: string }> {
  const body = await res.json();
  return body.error;
}
