/**
 * How the console server knows a request comes from its own page: the page reads a per-server token with a
 * same-origin GET of {@link TOKEN_PATH} (no other site can read that answer) and sends it in
 * {@link TOKEN_HEADER} on every request that changes something. Imported by the server and the page.
 *
 * @module
 */

/** Where the page reads `{token}`. */
export const TOKEN_PATH = "/console-token.json";

/** The request header that carries the token on `POST`, `PUT` and `DELETE` under `/api/`. */
export const TOKEN_HEADER = "X-Console-Token";

/** The error code of a request whose token is missing or wrong (the page then reads the token again). */
export const TOKEN_REFUSED = "console_token_refused";
