/**
 * Bundles the operator console (`console/`) with esbuild into `console/dist/` (not committed): `app.js`
 * (Preact + htm + uPlot, hono's typed client and the screens), `app.css` (uPlot's sheet and ours) and
 * `index.html`.
 *
 * The browser packages are the npm packages pinned in deno.json's imports. Deno keeps them in its own
 * cache (no node_modules), so a small esbuild plugin resolves `preact`, `htm`, `uplot` and `hono` (and their
 * subpaths, through the package's `exports` when it has no such folder) to the package folders in that cache,
 * after `deno cache` made sure they are there.
 *
 * @module
 */
import * as esbuild from "esbuild";
import { paths } from "../local/paths.ts";
import { runOrThrow } from "../local/process.ts";

/** The console's sources. */
export const CONSOLE_SOURCE = `${paths.root}/console`;
/** Where the bundle goes (listed in .gitignore). */
export const CONSOLE_DIST = `${paths.root}/console/dist`;

/** The shared modules the console imports from the functions' code (their changes rebuild the bundle). */
const SHARED_SOURCES = [`${paths.root}/supabase/functions/_shared/vocabulary.ts`];

/** The npm packages the browser bundle uses (names as in deno.json's imports). */
const BROWSER_PACKAGES = ["preact", "htm", "uplot", "hono"];

/** Options of {@link buildConsole}. */
export interface BuildOptions {
  /** Output folder (default {@link CONSOLE_DIST}). */
  outDir?: string;
  /** Build even when the bundle is newer than every source file. */
  force?: boolean;
}

/** Newest modification time (ms) of the files under `dir`, skipping `skip`. */
async function newestMtime(dir: string, skip: string): Promise<number> {
  let newest = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (path === skip) continue;
    const time = entry.isDirectory
      ? await newestMtime(path, skip)
      : (await Deno.stat(path)).mtime?.getTime() ?? 0;
    newest = Math.max(newest, time);
  }
  return newest;
}

/** The pinned version of each browser package, from deno.json (`npm:preact@11.2.0` → `11.2.0`). */
async function pinnedVersions(): Promise<Record<string, string>> {
  const { imports } = JSON.parse(await Deno.readTextFile(paths.denoConfig)) as {
    imports: Record<string, string>;
  };
  return Object.fromEntries(BROWSER_PACKAGES.map((name) => {
    const match = imports[name]?.match(/^npm:(?:@[^/]+\/)?[^@]+@(.+)$/);
    if (!match) throw new Error(`deno.json imports must pin ${name} as npm:${name}@<version>`);
    return [name, match[1]];
  }));
}

/** Downloads the browser packages into Deno's cache when missing; returns each package's folder. */
async function packageFolders(): Promise<Record<string, string>> {
  const versions = await pinnedVersions();
  const deno = Deno.execPath();
  const specifiers = BROWSER_PACKAGES.map((name) => `npm:${name}@${versions[name]}`);
  await runOrThrow(deno, ["cache", "--quiet", ...specifiers], { cwd: paths.root });
  const info = JSON.parse((await runOrThrow(deno, ["info", "--json"], { cwd: paths.root })).stdout) as {
    npmCache: string;
  };
  return Object.fromEntries(
    BROWSER_PACKAGES.map((name) => [name, `${info.npmCache}/registry.npmjs.org/${name}/${versions[name]}`]),
  );
}

/** The file the package in `folder` exports as `subpath` for `import` (e.g. `./client` of hono), if any. */
async function exportedFile(folder: string, subpath: string): Promise<string | undefined> {
  const { exports } = JSON.parse(await Deno.readTextFile(`${folder}/package.json`)) as {
    exports?: Record<string, string | { import?: string; default?: string }>;
  };
  const target = exports?.[`.${subpath}`];
  return typeof target === "string" ? target : target?.import ?? target?.default;
}

/** esbuild plugin: bare imports of the browser packages resolve inside Deno's npm cache. */
function denoNpmCache(folders: Record<string, string>): esbuild.Plugin {
  const pattern = new RegExp(`^(${BROWSER_PACKAGES.join("|")})(/.*)?$`);
  return {
    name: "deno-npm-cache",
    setup(build) {
      build.onResolve({ filter: pattern }, async (args) => {
        const [, name, subpath] = args.path.match(pattern)!;
        const options = { kind: args.kind, resolveDir: folders[name] };
        let resolved = await build.resolve(subpath ? `.${subpath}` : "./", options);
        const exported = subpath && resolved.errors.length > 0
          ? await exportedFile(folders[name], subpath)
          : undefined;
        if (exported) resolved = await build.resolve(exported, options);
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        return { path: resolved.path };
      });
    },
  };
}

/**
 * Builds the bundle when it is missing or older than a source file (or always with `force`).
 * Resolves with whether it built.
 */
export async function buildConsole(options: BuildOptions = {}): Promise<boolean> {
  const outDir = options.outDir ?? CONSOLE_DIST;
  const built = await Deno.stat(`${outDir}/app.js`).then((s) => s.mtime?.getTime() ?? 0, () => 0);
  const shared = await Promise.all(
    SHARED_SOURCES.map(async (path) => (await Deno.stat(path)).mtime?.getTime() ?? 0),
  );
  const newest = Math.max(await newestMtime(CONSOLE_SOURCE, outDir), ...shared);
  if (!options.force && built > 0 && built >= newest) return false;
  const folders = await packageFolders();
  // Built next to the output and renamed into it file by file, so a server (or another build) never reads
  // a half-written bundle.
  const staging = `${outDir}.build-${crypto.randomUUID()}`;
  try {
    await esbuild.build({
      entryPoints: [
        { in: `${CONSOLE_SOURCE}/src/main.js`, out: "app" },
        { in: `${CONSOLE_SOURCE}/src/styles.css`, out: "app" },
      ],
      outdir: staging,
      bundle: true,
      format: "esm",
      target: ["chrome110", "firefox110", "safari16"],
      minify: true,
      sourcemap: true,
      legalComments: "none",
      logLevel: "silent",
      plugins: [denoNpmCache(folders)],
    });
    await Deno.copyFile(`${CONSOLE_SOURCE}/index.html`, `${staging}/index.html`);
    await Deno.mkdir(outDir, { recursive: true });
    for await (const entry of Deno.readDir(staging)) {
      await Deno.rename(`${staging}/${entry.name}`, `${outDir}/${entry.name}`);
    }
  } finally {
    await esbuild.stop();
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
  return true;
}
