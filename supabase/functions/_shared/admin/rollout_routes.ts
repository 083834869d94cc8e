/**
 * Rollout routes of the admin API (the ops CLI's `rollout` command and the console):
 *
 * - `POST /rollouts {image?, plan?: {region?, cpu_kind?, cpus?, memory_mb?}, tier?, canary?, batch?,
 *   max_unavailable?, max_failures?, health_timeout_s?, stages?, users?, cohort?, bake_s?, wake?,
 *   include_overridden?, reason?}` (an image or a plan change; `wake`: idle machines are started for the
 *   health gate; `include_overridden`: users with an image override are rolled out too) → 201 `{rollout}`, started
 *   at once;
 * - `GET /rollouts?limit=` → `{rollouts}` newest first; `GET /rollouts/:id` → `{rollout, batches, targets,
 *   bake, events, lines}`: `targets` carry a `label` and `lines` are the batch lines (`rollout/progress.ts`);
 * - `POST /rollouts/:id/{pause|resume|abort|rollback} {reason?}` → `{changed, rollout}`;
 * - `GET /rollout-cohorts` → `{cohorts}`; `PUT /rollout-cohorts/:name {users}` → `{cohort}`;
 * - `GET /versions` → machines per tier and image digest, and the active rollout's target.
 *
 * Bad input is a 400 naming the field (zod here, an image from outside `FLY_IMAGE_ALLOWED`, the SQL checks for
 * what needs the database: an unknown tier); an unknown rollout 404; another active rollout for the scope (the
 * answer names it and its state) or an action its state refuses 409. After a start, resume, rollback or abort
 * the driver runs at once in the background until the rollout waits on a gate or ends (the sweep looks at its
 * gates on every run).
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import { getSql } from "../db/client.ts";
import { type CreateRolloutRequest, rolloutErrorAnswer, RolloutsRepository } from "../db/fly_rollouts.ts";
import { runInBackground } from "../http/background.ts";
import type { AppEnv } from "../http/env.ts";
import { HttpError } from "../http/errors.ts";
import { IMAGE_REFERENCE_PATTERN } from "../image_ref.ts";
import { jsonBody, paramsOf, queryOf } from "../http/validate.ts";
import { driveNow } from "../rollout/driver.ts";
import { rolloutDeps } from "../rollout/apply.ts";
import { batchLine, targetLabel } from "../rollout/progress.ts";
import { actorOf, assertImageAllowed, engine, ownerOf } from "./request.ts";
import { object, reason } from "./schemas.ts";
import { CPU_KINDS } from "../vocabulary.ts";

/** A saved cohort's name. */
const cohortName = z.string({ error: "must be a string" }).regex(
  /^[a-z0-9][a-z0-9_-]{0,62}$/,
  "must be 1-63 lowercase letters, digits, - or _",
);

const int = (min: number, max: number) =>
  z.int({ error: "must be an integer" }).min(min, `must be at least ${min}`).max(
    max,
    `must be at most ${max}`,
  );

/** POST /rollouts body: its fields only (a misspelt option such as `canaries` is refused by name). */
export const createRolloutBody = object({
  image: z.string({ error: "must be a string" }).regex(
    IMAGE_REFERENCE_PATTERN,
    "must be an image reference (registry/name:tag or name@sha256:...)",
  ).optional(),
  plan: z.strictObject({
    region: z.string({ error: "must be a string" }).regex(/^[a-z]{3}$/, "must be a Fly region code")
      .optional(),
    cpu_kind: z.enum(CPU_KINDS, { error: "must be shared or performance" }).optional(),
    cpus: int(1, 16).optional(),
    memory_mb: int(256, 131_072).optional(),
  }, { error: "must be an object of region, cpu_kind, cpus, memory_mb" }).optional(),
  tier: z.string({ error: "must be a string" }).min(1, "must not be empty").max(64).optional(),
  canary: int(0, 1_000).optional(),
  batch: int(1, 10_000).optional(),
  max_unavailable: z.number({ error: "must be a number" }).gt(0, "must be more than 0").max(
    1,
    "must be at most 1",
  )
    .optional(),
  max_failures: int(0, 10_000).optional(),
  health_timeout_s: int(1, 3_600).optional(),
  stages: z.array(int(1, 100), { error: "must be a list of percentages" }).min(1, "must not be empty")
    .max(20, "must have at most 20 stages")
    .refine((stages) => stages.every((p, i) => i === 0 || p > stages[i - 1]), "must be increasing")
    .refine((stages) => stages[stages.length - 1] === 100, "must end at 100").optional(),
  users: z.array(z.guid({ error: "must be user ids" }), { error: "must be a list of user ids" })
    .min(1, "must not be empty").max(1_000, "must list at most 1000 users").optional(),
  cohort: cohortName.optional(),
  bake_s: int(0, 86_400).optional(),
  wake: z.boolean({ error: "must be true or false" }).optional(),
  include_overridden: z.boolean({ error: "must be true or false" }).optional(),
  reason,
}).refine(
  (body) => body.image !== undefined || (body.plan !== undefined && Object.keys(body.plan).length > 0),
  { message: "is required (or a non-empty plan)", path: ["image"] },
);

/** PUT /rollout-cohorts/:name body. */
const cohortBody = object({
  users: z.array(z.guid({ error: "must be user ids" }), { error: "must be a list of user ids" })
    .min(1, "must not be empty").max(1_000, "must list at most 1000 users"),
});

/** GET /rollouts query. */
const listQuery = z.strictObject({
  limit: z.coerce.number({ error: "must be a number" }).int("must be an integer").min(1, "must be at least 1")
    .max(200, "must be at most 200").default(20),
});

/** `:id` of the rollout routes. */
const rolloutIdParam = z.object({ id: z.guid({ error: "must be a UUID" }) });

/** `:name` of the cohort routes. */
const cohortParam = z.object({ name: cohortName });

/** `:id/:action` of the rollout routes. */
const actionParam = rolloutIdParam.extend({
  action: z.enum(["pause", "resume", "abort", "rollback"], {
    error: "must be one of pause, resume, abort, rollback",
  }),
});

/** POST /rollouts/:id/:action body. */
const transitionBody = object({ reason });

/** Actions after which the driver has work to do at once (an abort stops the driver in flight). */
const KICKING = new Set(["start", "resume", "rollback", "abort"]);

function rollouts(c: Context<AppEnv>): RolloutsRepository {
  return new RolloutsRepository(getSql(c.get("config").db));
}

/** Runs a rollout SQL call, answering its documented errors (400 naming the field, 404, 409). */
async function rolloutCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const answer = rolloutErrorAnswer(error);
    if (!answer) throw error;
    throw new HttpError(answer.status, answer.code, answer.message, { field: answer.field });
  }
}

/**
 * Drives the rollout at once in the background, until it waits on a gate or ends, within the sweep's budget
 * (the sweep carries on after that).
 */
function kickDriver(c: Context<AppEnv>, rolloutId: string): void {
  const deps = engine(c);
  const work = driveNow(rolloutDeps(deps, rollouts(c)), {
    owner: ownerOf(),
    rolloutId,
    deadline: Date.now() + c.get("config").sweep.budgetMs,
  });
  runInBackground("rollout driver", work, c.get("log"));
}

/** The request as the SQL API takes it. */
function createRequest(body: z.output<typeof createRolloutBody>): CreateRolloutRequest {
  return {
    target: { ...(body.image ? { image: body.image } : {}), ...body.plan },
    ...(body.tier !== undefined ? { tier: body.tier } : {}),
    ...(body.canary !== undefined ? { canary_count: body.canary } : {}),
    ...(body.batch !== undefined ? { batch_size: body.batch } : {}),
    ...(body.max_unavailable !== undefined ? { max_unavailable: body.max_unavailable } : {}),
    ...(body.max_failures !== undefined ? { max_failures: body.max_failures } : {}),
    ...(body.health_timeout_s !== undefined ? { health_timeout_s: body.health_timeout_s } : {}),
    ...(body.stages !== undefined ? { stages: body.stages } : {}),
    ...(body.users !== undefined ? { users: body.users } : {}),
    ...(body.cohort !== undefined ? { cohort: body.cohort } : {}),
    ...(body.bake_s !== undefined ? { bake_s: body.bake_s } : {}),
    ...(body.reason !== undefined ? { reason: body.reason } : {}),
    ...(body.wake ? { wake: true } : {}),
    ...(body.include_overridden ? { include_overridden: true } : {}),
  };
}

/** The rollout routes. */
export const rolloutRoutes = new Hono<AppEnv>({ strict: false })
  .post("/rollouts", jsonBody(createRolloutBody), async (c) => {
    const actor = actorOf(c);
    const body = c.req.valid("json");
    assertImageAllowed(c, body.image);
    const rollout = await rolloutCall(() => rollouts(c).create(createRequest(body), actor));
    if (rollout.state === "running") kickDriver(c, rollout.id);
    return c.json({ rollout }, 201);
  })
  .get("/rollouts", queryOf(listQuery), async (c) => {
    const { limit } = c.req.valid("query");
    return c.json({ rollouts: await rollouts(c).recent(limit) });
  })
  .get("/rollouts/:id", paramsOf(rolloutIdParam), async (c) => {
    const { id } = c.req.valid("param");
    const status = await rollouts(c).status(id);
    if (!status) throw new HttpError(404, "not_found", `rollout ${id} does not exist`);
    const targets = status.targets.map((target) => ({ ...target, label: targetLabel(target) }));
    const lines = status.batches.map((batch) => batchLine(batch, status.targets));
    return c.json({ ...status, targets, lines });
  })
  .post("/rollouts/:id/:action", paramsOf(actionParam), jsonBody(transitionBody), async (c) => {
    const { id, action } = c.req.valid("param");
    const actor = actorOf(c);
    const { reason: why } = c.req.valid("json");
    const result = await rolloutCall(() => rollouts(c).transition(id, action, actor, { reason: why }));
    if (result.changed && KICKING.has(action)) kickDriver(c, id);
    return c.json(result);
  })
  .get("/rollout-cohorts", async (c) => c.json({ cohorts: await rollouts(c).cohorts() }))
  .put("/rollout-cohorts/:name", paramsOf(cohortParam), jsonBody(cohortBody), async (c) => {
    const { name } = c.req.valid("param");
    const { users } = c.req.valid("json");
    const cohort = await rolloutCall(() => rollouts(c).saveCohort(name, users, actorOf(c)));
    return c.json({ cohort });
  })
  .get("/versions", async (c) => c.json(await rollouts(c).fleetVersions()));
