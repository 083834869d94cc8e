/**
 * The Layout section of docs/architecture.md matches the folders. Its code block is a tree: each entry line
 * holds one or more comma-separated paths, then (after two or more spaces) what they are; a path ending in
 * `/` is a folder, and entries indented below a single folder lie inside it. Lines indented by
 * {@link continuationIndent} spaces or more continue the previous entry's description.
 *
 * The test fails when the block names a path that does not exist, or when a folder at the top level of the
 * repository, or directly under supabase/functions/ (every function), supabase/functions/_shared/, scripts/ or
 * tests/, exists but is not named
 * (itself or something inside it). Folders git ignores (.gitignore's folder patterns) and .git do not count.
 */
import { join } from "node:path";
import { assertEquals } from "../_support/assert.ts";
import { codeBlockUnder, repoRoot } from "./_markdown.ts";

/** Indentation from which a line continues a description instead of naming paths. */
const continuationIndent = 16;

/** The folders whose every sub-folder must be named ("" is the repository's top level). */
const coveredFolders = ["", "supabase/functions", "supabase/functions/_shared", "scripts", "tests"];

/** One named path: repository-relative, without a trailing slash, and whether it is a folder. */
interface NamedPath {
  path: string;
  folder: boolean;
}

/** The paths a Layout code block names, resolved through its indentation. */
function layoutPaths(lines: string[]): NamedPath[] {
  const named: NamedPath[] = [];
  const parents: { indent: number; path: string }[] = [];
  for (const line of lines) {
    const indent = line.length - line.trimStart().length;
    if (line.trim() === "" || indent >= continuationIndent) continue;
    while (parents.length > 0 && parents[parents.length - 1].indent >= indent) parents.pop();
    const base = parents.length > 0 ? parents[parents.length - 1].path : "";
    const names = line.trim().split(/\s{2,}/)[0].split(/,\s*/).filter((name) => name !== "");
    const entries = names.map((name) => ({
      path: [base, name.replace(/\/$/, "")].filter((part) => part !== "").join("/"),
      folder: name.endsWith("/"),
    }));
    named.push(...entries);
    if (entries.length === 1 && entries[0].folder) parents.push({ indent, path: entries[0].path });
  }
  return named;
}

/** Folder patterns of .gitignore (`name/` anywhere, `a/b/` from the root); file globs are not folders. */
async function ignoredFolders(): Promise<(relativePath: string) => boolean> {
  const patterns = (await Deno.readTextFile(join(repoRoot, ".gitignore"))).split("\n")
    .map((line) => line.trim())
    .filter((line) => line.endsWith("/") && !line.startsWith("#") && !/[*?[!]/.test(line))
    .map((line) => line.replace(/^\/|\/$/g, ""));
  return (relativePath) =>
    relativePath.split("/").pop() === ".git" ||
    patterns.some((pattern) =>
      pattern.includes("/") ? relativePath === pattern : relativePath.split("/").pop() === pattern
    );
}

/** What exists of a path: "folder", "file" or null. */
async function kindOf(path: string): Promise<"folder" | "file" | null> {
  try {
    return (await Deno.stat(join(repoRoot, path))).isDirectory ? "folder" : "file";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

Deno.test("the Layout of docs/architecture.md names only paths that exist, and every folder that does", async () => {
  const text = await Deno.readTextFile(join(repoRoot, "docs/architecture.md"));
  const named = layoutPaths(codeBlockUnder(text, "Layout"));
  const problems: string[] = [];
  for (const { path, folder } of named) {
    const kind = await kindOf(path);
    if (kind === null) problems.push(`named but missing: ${path}${folder ? "/" : ""}`);
    else if (folder && kind !== "folder") problems.push(`named as a folder but a file: ${path}/`);
  }
  const ignored = await ignoredFolders();
  for (const covered of coveredFolders) {
    for await (const entry of Deno.readDir(join(repoRoot, covered))) {
      const path = covered === "" ? entry.name : `${covered}/${entry.name}`;
      if (!entry.isDirectory || ignored(path)) continue;
      const isNamed = named.some((name) => name.path === path || name.path.startsWith(`${path}/`));
      if (!isNamed) problems.push(`exists but not named: ${path}/`);
    }
  }
  assertEquals(problems, []);
});

Deno.test("the Layout parser: nesting by indentation, lists of names, description continuations", () => {
  const block = [
    "deno.json                    tasks",
    "supabase/",
    "  functions/",
    "    _shared/",
    "      engine/, sweep/        rooms",
    "      log.ts                 structured logs",
    "                             over two lines, named/ here is prose",
    "  seed.sql                   demo users",
    "scripts/dev.ts, scripts/test.ts   the two commands",
  ];
  assertEquals(layoutPaths(block), [
    { path: "deno.json", folder: false },
    { path: "supabase", folder: true },
    { path: "supabase/functions", folder: true },
    { path: "supabase/functions/_shared", folder: true },
    { path: "supabase/functions/_shared/engine", folder: true },
    { path: "supabase/functions/_shared/sweep", folder: true },
    { path: "supabase/functions/_shared/log.ts", folder: false },
    { path: "supabase/seed.sql", folder: false },
    { path: "scripts/dev.ts", folder: false },
    { path: "scripts/test.ts", folder: false },
  ]);
});
