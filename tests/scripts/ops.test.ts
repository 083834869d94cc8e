/** The ops CLI turns commands into the documented function calls. */
import { assertEquals } from "../_support/assert.ts";
import { callFor } from "../../scripts/ops.ts";

const USER = "00000000-0000-4000-8000-000000000001";

Deno.test("ops: provision and deprovision wait by default and POST the user", () => {
  assertEquals(callFor(["provision", USER]), {
    method: "POST",
    fn: "provision-user-fly-app",
    query: { wait: "true" },
    body: { user_id: USER, reason: "ops" },
  });
  assertEquals(callFor(["deprovision", USER, "--async"]), {
    method: "POST",
    fn: "deprovision-user-fly-app",
    query: {},
    body: { user_id: USER, reason: "ops" },
  });
});

Deno.test("ops: status, sweep and summary map to GET/POST of the right function", () => {
  assertEquals(callFor(["status", USER]), {
    method: "GET",
    fn: "provision-user-fly-app",
    query: { user_id: USER },
  });
  assertEquals(callFor(["sweep", "--limit", "50", "--budget-ms", "30000"]), {
    method: "POST",
    fn: "check-fly-apps-health",
    query: { wait: "true" },
    body: { limit: 50, budget_ms: 30000 },
  });
  assertEquals(callFor(["summary"]), { method: "GET", fn: "check-fly-apps-health" });
});

Deno.test("ops: missing arguments and unknown commands are usage errors", () => {
  assertEquals(callFor(["provision"]), "provision needs a user_id");
  assertEquals(callFor(["status"]), "status needs a user_id");
  assertEquals(callFor(["reboot-everything"]), "unknown command reboot-everything");
});
