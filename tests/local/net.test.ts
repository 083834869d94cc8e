/** The pg_net stand-in and its worker behave like pg_net: commit-only delivery, responses, Content-Type rule. */
import { assert, assertEquals, assertRejects } from "../_support/assert.ts";
import { createScratchDatabase, type ScratchDatabase } from "../_support/database.ts";
import { type HttpRecorder, startHttpRecorder } from "../_support/http_recorder.ts";
import { waitFor } from "../_support/wait.ts";
import { type NetWorker, startNetWorker } from "../../scripts/local/net_worker.ts";

interface ResponseRow {
  id: string;
  status_code: number | null;
  content: string | null;
  timed_out: boolean | null;
  error_msg: string | null;
}

async function withNet(
  fn: (ctx: { db: ScratchDatabase; target: HttpRecorder; worker: NetWorker }) => Promise<void>,
) {
  const db = await createScratchDatabase({ standIns: true });
  const target = startHttpRecorder(async ({ path }) => {
    if (path === "/fail") return Response.json({ error: "boom" }, { status: 500 });
    if (path === "/slow") await new Promise((resolve) => setTimeout(resolve, 1500));
    return Response.json({ ok: true });
  });
  const worker = await startNetWorker(db.url, { pollMs: 100 });
  try {
    await fn({ db, target, worker });
  } finally {
    await worker.stop();
    await target.close();
    await db.drop();
  }
}

function responseFor(db: ScratchDatabase, id: string) {
  return waitFor(`response ${id}`, async () => {
    const [row] = await db.sql<ResponseRow[]>`
      select id, status_code, content, timed_out, error_msg from net._http_response where id = ${id}`;
    return row;
  });
}

Deno.test("net.http_post is sent after commit, with body and headers", async () => {
  await withNet(async ({ db, target }) => {
    const [{ id }] = await db.sql<{ id: string }[]>`
      select net.http_post(${target.url + "/ok"}, '{"user_id": "u1"}'::jsonb,
        headers := '{"Authorization": "Bearer t0ken", "X-Null": null}'::jsonb,
        timeout_milliseconds := 2000) as id`;
    const response = await responseFor(db, id);
    assertEquals(response.status_code, 200);
    assertEquals(response.error_msg, null);
    assertEquals(target.requests.length, 1);
    const [request] = target.requests;
    assertEquals(request.method, "POST");
    assertEquals(JSON.parse(request.body), { user_id: "u1" });
    assertEquals(request.headers.get("authorization"), "Bearer t0ken");
    assertEquals(request.headers.get("content-type"), "application/json");
    assertEquals(request.headers.has("x-null"), false);
  });
});

Deno.test("net.http_post inside a rolled-back transaction sends nothing", async () => {
  await withNet(async ({ db, target, worker }) => {
    await db.sql.begin(async (tx) => {
      await tx`select net.http_post(${target.url + "/ok"}, '{}'::jsonb)`;
      await tx`select 1 / 0`;
    }).catch(() => {});
    await worker.drain();
    const [{ queued }] = await db.sql<{ queued: number }[]>`
      select count(*)::int as queued from net.http_request_queue`;
    assertEquals(queued, 0);
    assertEquals(target.requests.length, 0);
  });
});

Deno.test("nothing is sent while the enqueuing transaction is still open", async () => {
  await withNet(async ({ db, target, worker }) => {
    const open = db.sql.reserve();
    const tx = await open;
    try {
      await tx`begin`;
      await tx`select net.http_post(${target.url + "/ok"}, '{}'::jsonb)`;
      assertEquals(await worker.drain(), 0);
      assertEquals(target.requests.length, 0);
      await tx`commit`;
    } finally {
      tx.release();
    }
    await waitFor("delivery after commit", () => target.requests.length === 1);
  });
});

Deno.test("a 500 is stored as a response and a timeout as timed_out", async () => {
  await withNet(async ({ db, target }) => {
    const [{ failing, slow }] = await db.sql<{ failing: string; slow: string }[]>`
      select net.http_post(${target.url + "/fail"}, '{}'::jsonb) as failing,
             net.http_get(${target.url + "/slow"}, timeout_milliseconds := 200) as slow`;
    const failed = await responseFor(db, failing);
    assertEquals(failed.status_code, 500);
    assertEquals(failed.error_msg, null);
    assertEquals(JSON.parse(failed.content ?? "{}"), { error: "boom" });
    const timedOut = await responseFor(db, slow);
    assertEquals(timedOut.status_code, null);
    assertEquals(timedOut.timed_out, true);
    assert(timedOut.error_msg?.includes("Timeout"), `error_msg was ${timedOut.error_msg}`);
  });
});

Deno.test("a refused connection is stored with error_msg and no status", async () => {
  await withNet(async ({ db }) => {
    const [{ id }] = await db.sql<{ id: string }[]>`
      select net.http_delete('http://127.0.0.1:1/nothing-listens-here') as id`;
    const response = await responseFor(db, id);
    assertEquals(response.status_code, null);
    assertEquals(response.timed_out, false);
    assert(response.error_msg, "error_msg should describe the transport error");
  });
});

Deno.test("net.http_post rejects a Content-Type other than exactly application/json", async () => {
  const db = await createScratchDatabase({ standIns: true });
  try {
    await assertRejects(
      () =>
        db.sql`select net.http_post('http://127.0.0.1:9/x', '{}'::jsonb,
        headers := '{"Content-Type": "application/json; charset=utf-8"}'::jsonb)`,
      Error,
      'Content-Type header must be "application/json"',
    );
    await assertRejects(() => db.sql`select net.http_post(null, '{}'::jsonb)`, Error, "null value");
    await assertRejects(() => db.sql`select net.http_post('not a url', '{}'::jsonb)`, Error, "URL");
    const [{ queued }] = await db.sql<{ queued: number }[]>`
      select count(*)::int as queued from net.http_request_queue`;
    assertEquals(queued, 0);
  } finally {
    await db.drop();
  }
});

Deno.test("query params are URL-encoded onto the URL", async () => {
  await withNet(async ({ db, target }) => {
    const [{ id }] = await db.sql<{ id: string }[]>`
      select net.http_get(${target.url + "/ok"}, '{"q": "a b&c"}'::jsonb) as id`;
    await responseFor(db, id);
    assertEquals(target.requests[0].method, "GET");
    assertEquals(target.requests[0].search, "?q=a%20b%26c");
  });
});

Deno.test("a transaction queueing many requests wakes the worker once, at commit", async () => {
  await withNet(async ({ db, target }) => {
    const wakes: string[] = [];
    const listener = await db.sql.listen("net_worker_wake", (payload) => wakes.push(payload));
    try {
      await db.sql.begin(async (tx) => {
        for (let i = 0; i < 5; i++) await tx`select net.http_post(${`${target.url}/many`}, '{}'::jsonb)`;
        await new Promise((resolve) => setTimeout(resolve, 200));
        assertEquals(wakes.length, 0, "no wake before commit");
      });
      await waitFor("the five requests", () => target.requests.length === 5);
      assertEquals(wakes.length, 1, "one wake for the transaction");
    } finally {
      await listener.unlisten();
    }
  });
});
