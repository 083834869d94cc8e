/** A local HTTP server that records what it receives, for tests of code that makes outgoing calls. */

/** One request the recorder received. */
export interface RecordedRequest {
  method: string;
  path: string;
  /** The query string including its leading "?", or "". */
  search: string;
  headers: Headers;
  body: string;
}

/** A running recorder. */
export interface HttpRecorder {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Serves `respond` on a free port of 127.0.0.1 and records every request before answering. */
export function startHttpRecorder(
  respond: (request: RecordedRequest) => Response | Promise<Response> = () => Response.json({ ok: true }),
): HttpRecorder {
  const requests: RecordedRequest[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const recorded = {
      method: request.method,
      path: new URL(request.url).pathname,
      search: new URL(request.url).search,
      headers: request.headers,
      body: await request.text(),
    };
    requests.push(recorded);
    return respond(recorded);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    close: () => server.shutdown(),
  };
}
