import { createHash, createHmac } from "node:crypto";
import nodeAssert from "node:assert/strict";
import { assert, assertEquals } from "../_support/assert.ts";
import {
  appNameCandidate,
  appNamingProblem,
  FLY_APP_NAME_MAX_LENGTH,
  isManagedAppName,
  isValidFlyAppName,
  randomAppName,
} from "../../supabase/functions/_shared/engine/app_name.ts";

const KEY = "app-name-test-key-0123456789";
const naming = { prefix: "vyx-user", hashLength: 12, key: KEY };
const USER = "7b0c4f8e-2d3a-4e5b-9c6d-0a1b2c3d4e5f";

/** HMAC-SHA256 hex under the test key, by an independent implementation (node:crypto). */
const hmac = (text: string, key = KEY) => createHmac("sha256", key).update(text).digest("hex");

Deno.test("app name: <prefix>-<first 12 hex of HMAC(key, user_id)>, deterministic", async () => {
  const name = await appNameCandidate(USER, 0, naming);
  assertEquals(name, `vyx-user-${hmac(USER).slice(0, 12)}`);
  assertEquals(await appNameCandidate(USER, 0, naming), name);
  assertEquals(await appNameCandidate(USER.toUpperCase(), 0, naming), name, "textual case does not matter");
  assert(isValidFlyAppName(name));
  assertEquals(name.length, "vyx-user-".length + 12);
});

Deno.test("app name: nobody without the key can compute it; another key gives other names", async () => {
  const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
  const computable = [USER, ...[1, 2, 3, 4].map((k) => `${USER}:${k}`)].map((t) =>
    `vyx-user-${sha256(t).slice(0, 12)}`
  );
  const keyed = await Promise.all([0, 1, 2, 3, 4].map((i) => appNameCandidate(USER, i, naming)));
  assertEquals(keyed.filter((name) => computable.includes(name)), [], "no keyed name is the unkeyed hash");
  const other = await appNameCandidate(USER, 0, { ...naming, key: "another-key-0123456789abcdef" });
  assertEquals(other, `vyx-user-${hmac(USER, "another-key-0123456789abcdef").slice(0, 12)}`);
  assert(other !== keyed[0]);
});

Deno.test("app name: random fallback names have the managed shape and differ", () => {
  const names = Array.from({ length: 50 }, () => randomAppName(naming));
  assertEquals(new Set(names).size, 50);
  for (const name of names) assert(isValidFlyAppName(name) && isManagedAppName(name, naming), name);
});

Deno.test("app name: next candidates key `<user_id>:<n>`, all distinct and valid", async () => {
  assertEquals(await appNameCandidate(USER, 1, naming), `vyx-user-${hmac(`${USER}:1`).slice(0, 12)}`);
  const names = await Promise.all([...Array(20).keys()].map((n) => appNameCandidate(USER, n, naming)));
  assertEquals(new Set(names).size, 20);
  for (const name of names) assert(isValidFlyAppName(name) && isManagedAppName(name, naming), name);
});

Deno.test("app name: different users get different names; prefix and length follow the configuration", async () => {
  const other = "7b0c4f8e-2d3a-4e5b-9c6d-0a1b2c3d4e60";
  assert(await appNameCandidate(USER, 0, naming) !== await appNameCandidate(other, 0, naming));
  const custom = await appNameCandidate(USER, 0, { prefix: "acme", hashLength: 20, key: KEY });
  assertEquals(custom, `acme-${hmac(USER).slice(0, 20)}`);
});

Deno.test("app name: bad attempts and namings are refused", async () => {
  for (const attempt of [-1, 1.5, Number.NaN]) {
    await nodeAssert.rejects(appNameCandidate(USER, attempt, naming), RangeError);
  }
  await nodeAssert.rejects(
    appNameCandidate(USER, 0, { prefix: "x".repeat(60), hashLength: 12, key: KEY }),
    RangeError,
  );
  await nodeAssert.rejects(
    appNameCandidate(USER, 0, { prefix: "Vyx", hashLength: 12, key: KEY }),
    RangeError,
  );
  assertEquals(appNamingProblem(naming), undefined);
  assert(appNamingProblem({ prefix: "vyx", hashLength: 65 }));
  assert(appNamingProblem({ prefix: "9vyx", hashLength: 8 }));
});

Deno.test("app name: Fly's rules", () => {
  for (const valid of ["a", "vyx-user-0123456789ab", "a1-b2", "a".repeat(FLY_APP_NAME_MAX_LENGTH)]) {
    assert(isValidFlyAppName(valid), valid);
  }
  for (
    const invalid of [
      "",
      "Vyx-user",
      "vyx_user",
      "vyx-",
      "-vyx",
      "1vyx",
      "vyx.user",
      "vyx user",
      "a".repeat(64),
    ]
  ) {
    assert(!isValidFlyAppName(invalid), invalid);
  }
});

Deno.test("app name: isManagedAppName recognises only our shape", () => {
  assert(isManagedAppName("vyx-user-0123456789ab", naming));
  assert(!isManagedAppName("vyx-user-0123456789a", naming), "too short");
  assert(!isManagedAppName("vyx-user-0123456789abc", naming), "too long");
  assert(!isManagedAppName("vyx-user-0123456789ag", naming), "not hex");
  assert(!isManagedAppName("vyx-users-0123456789a", naming), "other prefix");
  assert(!isManagedAppName("other-0123456789ab", naming));
});
