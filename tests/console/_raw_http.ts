/**
 * One HTTP/1.1 request written by hand over TCP, for the requests `fetch` will not send: another `Host`
 * (what a DNS-rebinding page's requests carry), or exactly the headers a browser puts on a cross-site form.
 */

/** The answer of {@link rawRequest}. */
export interface RawAnswer {
  status: number;
  /** Header names lowercase. */
  headers: Record<string, string>;
  body: string;
}

const CRLF2 = [13, 10, 13, 10];

/** Index of the first `\r\n\r\n` in `bytes` (-1 when none). */
function headEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (CRLF2.every((byte, k) => bytes[i + k] === byte)) return i;
  }
  return -1;
}

/** The payload of a `Transfer-Encoding: chunked` body. */
function dechunk(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    let end = at;
    while (end + 1 < bytes.length && !(bytes[end] === 13 && bytes[end + 1] === 10)) end++;
    const size = parseInt(new TextDecoder().decode(bytes.subarray(at, end)), 16);
    if (!size) break;
    parts.push(bytes.subarray(end + 2, end + 2 + size));
    at = end + 2 + size + 2;
  }
  return new Uint8Array(parts.flatMap((part) => [...part]));
}

/** Sends `method url` with exactly `headers` (plus `Content-Length` and `Connection: close`) and `body`. */
export async function rawRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawAnswer> {
  const { hostname, port, pathname, search } = new URL(url);
  const body = new TextEncoder().encode(init.body ?? "");
  const lines = [
    `${init.method ?? "GET"} ${pathname}${search} HTTP/1.1`,
    ...Object.entries({ host: `${hostname}:${port}`, ...init.headers }).map(([name, value]) =>
      `${name}: ${value}`
    ),
    `content-length: ${body.length}`,
    "connection: close",
  ];
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const writer = conn.writable.getWriter();
  await writer.write(new Uint8Array([...new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n`), ...body]));
  writer.releaseLock();
  const bytes = new Uint8Array(await new Response(conn.readable).arrayBuffer());
  const end = headEnd(bytes);
  const [statusLine, ...headerLines] = new TextDecoder().decode(bytes.subarray(0, end)).split("\r\n");
  const headers = Object.fromEntries(headerLines.map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
  }));
  const payload = bytes.subarray(end + 4);
  return {
    status: Number(statusLine.split(" ")[1]),
    headers,
    body: new TextDecoder().decode(headers["transfer-encoding"] === "chunked" ? dechunk(payload) : payload),
  };
}
