/**
 * Plays pg_net's background worker against the `net` stand-in: wakes on the one NOTIFY per transaction that
 * `net.wake()` sends, delivered at commit as upstream's latch is set from a commit callback (and polls once a
 * second as a fallback), takes a batch from `net.http_request_queue`, sends it
 * with each request's own timeout and no retries, and writes `net._http_response` like pg_net does:
 * any HTTP status is a response (error_msg null); transport errors and timeouts set error_msg/timed_out.
 * Like pg_net, the batch is deleted, sent and answered inside one transaction.
 */
import postgres from "postgres";

/** Options for {@link startNetWorker}. */
export interface NetWorkerOptions {
  /** Requests taken per iteration (pg_net.batch_size). */
  batchSize?: number;
  /** How long responses are kept (pg_net.ttl), in seconds. */
  ttlSeconds?: number;
  /** Fallback poll interval in milliseconds. */
  pollMs?: number;
  /** Where worker errors go. */
  onError?: (error: unknown) => void;
}

/** A running worker. */
export interface NetWorker {
  /** Runs one iteration now; resolves to the number of requests sent. */
  drain(): Promise<number>;
  /** Stops the worker after the iteration in flight. */
  stop(): Promise<void>;
}

interface QueuedRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, unknown> | null;
  body: Uint8Array | null;
  timeout_milliseconds: number;
}

interface ResponseRow {
  id: string;
  status_code: number | null;
  content_type: string | null;
  headers: Record<string, string> | null;
  content: string | null;
  timed_out: boolean | null;
  error_msg: string | null;
}

const USER_AGENT = "pg_net/0.20.4 (local stand-in)";

/** Drops headers whose JSON value is null, as pg_net does, and stringifies the rest. */
function requestHeaders(headers: Record<string, unknown> | null): Headers {
  const result = new Headers({ "User-Agent": USER_AGENT });
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== null && value !== undefined) result.set(name, String(value));
  }
  return result;
}

async function send(request: QueuedRequest): Promise<ResponseRow> {
  const timeout = AbortSignal.timeout(request.timeout_milliseconds);
  try {
    const response = await fetch(request.url, {
      method: request.method.toUpperCase(),
      headers: requestHeaders(request.headers),
      body: request.body && request.method.toUpperCase() !== "GET" ? new Uint8Array(request.body) : undefined,
      signal: timeout,
    });
    const content = await response.text();
    return {
      id: request.id,
      status_code: response.status,
      content_type: response.headers.get("content-type"),
      headers: Object.fromEntries(response.headers),
      content,
      timed_out: false,
      error_msg: null,
    };
  } catch (error) {
    const timedOut = timeout.aborted;
    return {
      id: request.id,
      status_code: null,
      content_type: null,
      headers: null,
      content: null,
      timed_out: timedOut,
      error_msg: timedOut
        ? `Timeout of ${request.timeout_milliseconds} ms reached. Total time: ${request.timeout_milliseconds} ms`
        : `Couldn't connect to server: ${(error as Error).message}`,
    };
  }
}

/** Starts a worker for the database at `dbUrl`. */
export async function startNetWorker(dbUrl: string, options: NetWorkerOptions = {}): Promise<NetWorker> {
  const batchSize = options.batchSize ?? 200;
  const ttlSeconds = options.ttlSeconds ?? 6 * 3600;
  const onError = options.onError ?? ((error) => console.error("net worker:", error));
  const sql = postgres(dbUrl, { max: 2, onnotice: () => {} });
  let running = true;
  let iteration: Promise<number> = Promise.resolve(0);

  const iterate = (): Promise<number> =>
    sql.begin(async (tx) => {
      await tx`delete from net._http_response where created < now() - make_interval(secs => ${ttlSeconds})`;
      const batch = await tx<QueuedRequest[]>`
        delete from net.http_request_queue
        where id in (select id from net.http_request_queue order by id limit ${batchSize} for update skip locked)
        returning id, method, url, headers, body, timeout_milliseconds`;
      const responses = await Promise.all(batch.map(send));
      if (responses.length > 0) {
        // One statement for the batch, as upstream inserts the batch's responses before its commit.
        await tx`insert into net._http_response
          (id, status_code, content_type, headers, content, timed_out, error_msg)
          select * from jsonb_to_recordset(${tx.json(responses as unknown as postgres.JSONValue)}) as r(
            id bigint, status_code integer, content_type text, headers jsonb, content text, timed_out bool,
            error_msg text)`;
      }
      return batch.length;
    });

  /** Serialises iterations so there is one batch in flight, like the single pg_net worker. */
  const drain = (): Promise<number> => {
    iteration = iteration.catch(() => 0).then(iterate);
    return iteration;
  };
  const wake = () => {
    if (running) drain().catch(onError);
  };

  const listener = await sql.listen("net_worker_wake", wake);
  const timer = setInterval(wake, options.pollMs ?? 1000);
  wake();

  return {
    drain,
    async stop() {
      running = false;
      clearInterval(timer);
      // The server may be gone already (Ctrl-C reaches Postgres too): nothing left to unlisten then.
      await listener.unlisten().catch(() => {});
      await iteration.catch(() => {});
      await sql.end({ timeout: 2 });
    },
  };
}
