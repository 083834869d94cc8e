/**
 * The browser's client of the admin API. Every call goes to `/api/*` on the console's own origin: the
 * console server proxies it to the `fly-apps-admin` function and adds the provisioner secret there, so the
 * page never holds it. Errors come back as {@link ApiError} with the API's `{error: {code, message}}`.
 *
 * @module
 */

/** An answer other than 2xx, or a network failure (status 0). */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0: no answer)
   * @param {string} code the API's error code
   * @param {string} message the API's message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Calls the admin API.
 * @param {string} path e.g. `/apps`
 * @param {{method?: string, query?: Record<string, unknown>, body?: unknown}} [options]
 * @returns {Promise<any>} the parsed JSON body
 */
export async function api(path, options = {}) {
  const url = new URL(`/api${path}`, location.origin);
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
  }
  const method = options.method ?? "GET";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: method === "GET" ? {} : { "content-type": "application/json" },
      body: method === "GET" ? undefined : JSON.stringify(options.body ?? {}),
    });
  } catch (error) {
    throw new ApiError(0, "network", `the console server did not answer (${error.message})`);
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const detail = body?.error;
    throw new ApiError(
      response.status,
      detail?.code ?? "http_error",
      detail?.message
        ? `${detail.message}${detail.field ? ` (${detail.field})` : ""}`
        : `HTTP ${response.status}`,
    );
  }
  return body;
}
