/** The rollout repository's error mapping: what the admin API answers for each documented SQL error. */
import { rolloutErrorAnswer } from "../../supabase/functions/_shared/db/fly_rollouts.ts";
import { assertEquals } from "../_support/assert.ts";
import { IMAGE_B, withRollouts } from "./_fixture.ts";

async function answerOf(call: () => Promise<unknown>) {
  try {
    await call();
  } catch (error) {
    const answer = rolloutErrorAnswer(error);
    return answer && { status: answer.status, code: answer.code, field: answer.field };
  }
  throw new Error("expected the call to fail");
}

Deno.test("rollout errors: bad input 400 naming the field, overlap and wrong state 409, unknown rollout 404", async () => {
  await withRollouts(2, async ({ repo, create, db }) => {
    assertEquals(await answerOf(() => create({ target: { image: IMAGE_B }, batch_size: -1 })), {
      status: 400,
      code: "invalid_request",
      field: "batch_size",
    });
    assertEquals(await answerOf(() => create({ target: { image: "has space" } })), {
      status: 400,
      code: "invalid_request",
      field: "target.image",
    });
    assertEquals(await answerOf(() => create({ target: { image: IMAGE_B }, tier: "gold" })), {
      status: 400,
      code: "invalid_request",
      field: "tier",
    });
    const [{ count }] = await db.sql<
      { count: number }[]
    >`select count(*)::int as count from public.fly_rollouts`;
    assertEquals(count, 0, "bad input wrote nothing");

    const rollout = await create({ target: { image: IMAGE_B }, tier: "pro" });
    assertEquals(await answerOf(() => create({ target: { image: IMAGE_B } })), {
      status: 409,
      code: "conflict",
      field: undefined,
    });
    await repo.transition(rollout.id, "abort", "ops");
    assertEquals(await answerOf(() => repo.transition(rollout.id, "pause", "ops")), {
      status: 409,
      code: "invalid_state",
      field: undefined,
    });
    assertEquals(await answerOf(() => repo.transition(crypto.randomUUID(), "pause", "ops")), {
      status: 404,
      code: "not_found",
      field: undefined,
    });
    assertEquals(await repo.status(crypto.randomUUID()), null);
  });
});
