/**
 * Step 1 of converging a present app: find or create the user's Fly app under a keyed name (app_name.ts).
 *
 * App names are global across Fly. A name is the user's when the app is in our org, no other user's row
 * records it, and no machine in it belongs to another user. A name held by another org (403 on GET) or by
 * another user moves on to the next keyed candidate, then to random names of the same shape; the name in use
 * is recorded on the row, and a row that already records one keeps it. A name taken by a stranger is an
 * `app_name_taken` warning event and, when nothing is left to try, a retryable failure (alerted), never a
 * permanent error.
 *
 * @module
 */
import { FlyForbiddenError, FlyNameTakenError, FlyNotFoundError } from "../fly/mod.ts";
import { appNameCandidate, randomAppName } from "./app_name.ts";
import { pause, type ReconcileContext } from "./context.ts";
import { AppNameTakenError, RetryLaterError } from "./failure.ts";

/** How many keyed candidates are tried (each is a fresh 48-bit HMAC by default). */
const KEYED_NAME_CANDIDATES = 5;

/** How many random names are tried after the keyed ones, per attempt. */
const RANDOM_NAME_CANDIDATES = 3;

/** What a name is to this user. */
type Ownership = "ours" | "absent" | "foreign";

/** Decides whether the app called `name` is this user's, absent, or someone else's. */
export async function appOwnership(ctx: ReconcileContext, name: string): Promise<Ownership> {
  let app;
  try {
    app = await ctx.fly.apps.get(name);
  } catch (error) {
    if (error instanceof FlyNotFoundError) return "absent";
    if (error instanceof FlyForbiddenError) return "foreign";
    throw error;
  }
  if (app.organization && app.organization.slug !== ctx.config.fly.orgSlug) return "foreign";
  if (await ctx.repo.names.appNameUsedByAnotherUser(name, ctx.row.user_id)) return "foreign";
  const machines = await ctx.fly.machines.list(name);
  const othersMachine = machines.some((m) => {
    const owner = m.config.metadata?.user_id;
    return owner !== undefined && owner !== ctx.row.user_id;
  });
  return othersMachine ? "foreign" : "ours";
}

/**
 * Pauses before each read that waits for a just-created app to become visible, in ms (the last repeats).
 * Fly propagates a new app through its state store in a few hundred ms (the emulator's realistic profile:
 * 400 ms), and the client's per-app read limiter (1/s, burst 3 scaled by the safety factor to 2, one token
 * already spent on the lookup before the create) leaves ONE read for the first second: a read sent too
 * early is answered 404 and the next one waits about a second for its token. So the first read waits out
 * the usual propagation time; later ones follow at the limiter's pace.
 */
const APP_VISIBLE_PAUSES_MS = [400, 300, 600, 1_000];

/**
 * Apps are eventually consistent: right after a create, GET may still answer 404 for a while. Polls until
 * the app is visible or the budget runs out.
 */
async function awaitAppVisible(ctx: ReconcileContext, name: string): Promise<void> {
  for (let attempt = 0;; attempt++) {
    const delay = APP_VISIBLE_PAUSES_MS[Math.min(attempt, APP_VISIBLE_PAUSES_MS.length - 1)];
    await pause(ctx, delay, `app ${name} to become visible after create`);
    try {
      await ctx.fly.apps.get(name);
      return;
    } catch (error) {
      if (!(error instanceof FlyNotFoundError)) throw error;
    }
  }
}

/** Creates `name`; on 422 name_taken, decides by ownership. Returns whether the name is now ours. */
async function createApp(ctx: ReconcileContext, name: string): Promise<"created" | "ours" | "foreign"> {
  try {
    // Its own private network, named after the app: users' apps never share the org's default network.
    await ctx.fly.apps.create({ name, org_slug: ctx.config.fly.orgSlug, network: name });
  } catch (error) {
    if (!(error instanceof FlyNameTakenError)) throw error;
    // Taken: either our own earlier create that succeeded silently, or someone else's app.
    const ownership = await appOwnership(ctx, name);
    if (ownership === "absent") {
      throw new RetryLaterError(
        `app name ${name} is reported taken but no such app is visible (being released?)`,
      );
    }
    return ownership;
  }
  await awaitAppVisible(ctx, name);
  return "created";
}

/** Ensures the user's app exists in our org; records its name; returns it. */
export async function ensureApp(ctx: ReconcileContext): Promise<string> {
  const recorded = ctx.row.fly_app_name;
  const naming = ctx.config.appNaming;
  const candidates = recorded ? [recorded] : [
    ...await Promise.all(
      Array.from({ length: KEYED_NAME_CANDIDATES }, (_, i) => appNameCandidate(ctx.row.user_id, i, naming)),
    ),
    ...Array.from({ length: RANDOM_NAME_CANDIDATES }, () => randomAppName(naming)),
  ];
  for (const name of candidates) {
    const ownership = await appOwnership(ctx, name);
    const outcome = ownership === "absent" ? await createApp(ctx, name) : ownership;
    if (outcome === "foreign" && name === recorded) {
      ctx.events.push({ event_type: "app_name_taken", status: "warning", metadata: { app_name: name } });
      throw new AppNameTakenError(
        `the recorded app ${name} is not ours (another org or user holds it); clear fly_app_name to pick a new one`,
      );
    }
    if (outcome === "foreign") {
      ctx.events.push({ event_type: "app_name_taken", status: "warning", metadata: { app_name: name } });
      continue;
    }
    ctx.patch.fly_app_name = name;
    ctx.patch.fly_org_slug = ctx.config.fly.orgSlug;
    if (outcome === "created") {
      ctx.events.push({ event_type: "app_created", status: "ok", metadata: { app_name: name } });
    }
    return name;
  }
  throw new AppNameTakenError(
    `all ${candidates.length} app name candidates (keyed and random) are taken on Fly; trying again later`,
  );
}
