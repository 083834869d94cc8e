/**
 * Control routes of the emulated image registry (no token), for tests and the dev stack:
 *
 * - `GET /_emulator/images`: tags pushed or removed so far, `[{image, digest, pushes}]` (digest null: removed)
 * - `POST /_emulator/images/push` `{image}`: push the tag again (same tag, new digest) → `{image, digest}`
 * - `POST /_emulator/images/remove` `{image}`: the tag no longer resolves; machine creates and updates with
 *   it fail as Fly fails to pull an image (400 `failed to get manifest …`) until it is pushed again
 */
import { z } from "zod";
import type { Hono } from "hono";
import type { EmulatorCore } from "../core.ts";
import type { EmulatorEnv } from "../operation.ts";
import { readBody } from "../request.ts";

const ImageBody = z.object({ image: z.string().min(1) });

/** Registers the image registry's control routes. */
export function registerImageRoutes(app: Hono<EmulatorEnv>, core: EmulatorCore): void {
  app.get("/_emulator/images", (c) => c.json(core.images.list()));
  app.post("/_emulator/images/push", async (c) => {
    const { image } = await readBody(c, ImageBody);
    return c.json({ image, digest: core.images.push(image) });
  });
  app.post("/_emulator/images/remove", async (c) => {
    const { image } = await readBody(c, ImageBody);
    core.images.remove(image);
    return c.json({ ok: true });
  });
}
