/** Test fixture: an in-process emulator and a client pointed at it, checked against the spec afterwards. */
import {
  createFlyClient,
  type FlyClient,
  type FlyClientOptions,
} from "../../../supabase/functions/_shared/fly/mod.ts";
import {
  type FlyEmulator,
  type FlyEmulatorOptions,
  startFlyEmulator,
} from "../../../scripts/local/fly-emulator/mod.ts";
import { assertEquals } from "../../_support/assert.ts";
import { SpecRecorder } from "./spec_conformance.ts";

/** What a test body receives. */
export interface FlyFixture {
  readonly emulator: FlyEmulator;
  readonly client: FlyClient;
  readonly recorder: SpecRecorder;
  /** Another client on the same emulator and recorder, with other options. */
  readonly makeClient: (options?: Partial<FlyClientOptions>) => FlyClient;
  /** A raw authenticated call to the emulator (recorded, request not checked against the spec). */
  readonly raw: (
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) => Promise<Response>;
}

/** Fast retries for tests: same policy, shorter waits. */
export const TEST_RETRY = { baseDelayMs: 5, maxDelayMs: 50 };

/**
 * Runs `body` with a fresh emulator (fast latency unless overridden) and client, then asserts that every
 * exchange conformed to the spec and closes the emulator.
 */
export async function withFly(
  body: (fixture: FlyFixture) => Promise<void>,
  emulatorOptions: FlyEmulatorOptions = {},
  clientOptions: Partial<FlyClientOptions> = {},
): Promise<void> {
  const emulator = await startFlyEmulator({ latency: "fast", ...emulatorOptions });
  const recorder = new SpecRecorder();
  const makeClient = (options: Partial<FlyClientOptions> = {}) =>
    createFlyClient({
      baseUrl: emulator.url,
      token: emulator.token,
      fetch: recorder.fetch,
      ...clientOptions,
      ...options,
      retry: { ...TEST_RETRY, ...clientOptions.retry, ...options.retry },
    });
  const raw = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    recorder.fetchUnchecked(`${emulator.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${emulator.token}`, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  try {
    await body({ emulator, client: makeClient(), recorder, makeClient, raw });
    assertEquals(recorder.violations(), [], "every exchange conforms to the spec (or a listed exception)");
  } finally {
    await emulator.close();
  }
}

/** A minimal valid machine config. */
export function machineConfig(metadata: Record<string, string> = {}) {
  return {
    image: "registry.example/app:1",
    guest: { cpu_kind: "shared", cpus: 2, memory_mb: 512 },
    env: { RUN_MODE: "user_dedicated" },
    services: [{ protocol: "tcp", internal_port: 8080, autostop: "off" as const, ports: [{ port: 443 }] }],
    checks: { health: { type: "http", port: 8080, path: "/health", interval: "15s", timeout: "2s" } },
    restart: { policy: "always" as const },
    metadata,
  };
}
