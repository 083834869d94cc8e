/** Absolute paths of the project folders the local stack works with. */
const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** Repository layout, resolved from this file so commands work from any working directory. */
export const paths = {
  root,
  migrations: `${root}/supabase/migrations`,
  sqlTests: `${root}/supabase/tests`,
  functions: `${root}/supabase/functions`,
  standIns: `${root}/scripts/local/standins`,
  gateway: `${root}/scripts/local/functions_gateway.ts`,
  denoConfig: `${root}/deno.json`,
};

/**
 * The pinned Deno as a machine with only Node/npm runs it (as the README and `.ci/run` do): every command
 * line the local tools print starts with it, so that it runs as printed.
 */
export const DENO_COMMAND = "npx --yes deno@2.9.6";
