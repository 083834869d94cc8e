/** The one image validator: FLY_IMAGE_ALLOWED entries, and the default of FLY_APP_IMAGE's repository. */
import { assert, assertEquals } from "../_support/assert.ts";
import { imageNotAllowed } from "../../supabase/functions/_shared/image_allowed.ts";

const fallbackImage = "registry.fly.io/vyx-user-backend:latest";

Deno.test("image allowed: by default any tag or digest of FLY_APP_IMAGE's repository, nothing else", () => {
  const only = { allowed: [], fallbackImage };
  for (const ok of ["registry.fly.io/vyx-user-backend:v2", "registry.fly.io/vyx-user-backend@sha256:ab12"]) {
    assertEquals(imageNotAllowed(ok, only), undefined, ok);
  }
  for (
    const bad of [
      "attacker.example.net/x:latest",
      "registry.fly.io/vyx-user-backend-evil:latest",
      "registry.fly.io/other:latest",
      "registry.fly.io/vyx-user-backend/sub:latest",
    ]
  ) {
    const problem = imageNotAllowed(bad, only);
    assert(problem?.includes("registry.fly.io/vyx-user-backend"), `${bad}: ${problem}`);
  }
});

Deno.test("image allowed: listed repositories, and prefixes ending in / (a registry port is no tag)", () => {
  const settings = { allowed: ["registry.example.com:5000/team/", "docker.io/acme/api"], fallbackImage };
  assertEquals(imageNotAllowed("registry.example.com:5000/team/api:1", settings), undefined);
  assertEquals(imageNotAllowed("docker.io/acme/api@sha256:00", settings), undefined);
  assert(imageNotAllowed("docker.io/acme/api2:1", settings));
  assert(imageNotAllowed("registry.example.com:5000/teamx/api:1", settings));
  assert(imageNotAllowed(fallbackImage, settings), "the default no longer applies once a list is set");
});
