/**
 * Just enough Markdown for the docs tests: the prose docs (README.md and docs/*.md), their headings as GitHub
 * anchors, their links, and the fenced code block under a heading. Fenced code, inline code and HTML comments
 * are never read as links or headings.
 */
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** One prose doc: its path from the repository root and its text. */
export interface Doc {
  path: string;
  text: string;
}

/** README.md and every docs/*.md, read from disk. */
export async function proseDocs(): Promise<Doc[]> {
  const paths = ["README.md"];
  for await (const entry of Deno.readDir(join(repoRoot, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) paths.push(`docs/${entry.name}`);
  }
  return await Promise.all(
    paths.sort().map(async (path) => ({ path, text: await Deno.readTextFile(join(repoRoot, path)) })),
  );
}

/** One line of a doc outside fenced code, with HTML comments and inline code spans blanked. */
interface ProseLine {
  number: number;
  text: string;
}

const fence = /^\s*(```|~~~)/;

/** The doc's lines outside fenced code blocks, HTML comments and inline code removed. */
function proseLines(text: string): ProseLine[] {
  const withoutComments = text.replace(/<!--[\s\S]*?-->/g, (comment) => comment.replace(/[^\n]/g, " "));
  const lines: ProseLine[] = [];
  let inFence = false;
  withoutComments.split("\n").forEach((line, index) => {
    if (fence.test(line)) {
      inFence = !inFence;
      return;
    }
    if (!inFence) lines.push({ number: index + 1, text: line.replace(/`[^`]*`/g, "") });
  });
  return lines;
}

/** GitHub's anchor for a heading's text: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** Every anchor of a doc, with GitHub's `-1`, `-2`, … for repeated headings. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  const withCode = text.replace(/<!--[\s\S]*?-->/g, "").split("\n");
  let inFence = false;
  for (const line of withCode) {
    if (fence.test(line)) inFence = !inFence;
    const heading = inFence ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** A link of a doc: its target as written and the line it is on. */
export interface Link {
  target: string;
  line: number;
}

/** Inline links and images `[text](target)` and reference definitions `[name]: target`. */
export function links(text: string): Link[] {
  const found: Link[] = [];
  for (const { number, text: line } of proseLines(text)) {
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ target: match[1], line: number });
    }
    const definition = /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line);
    if (definition) found.push({ target: definition[1], line: number });
  }
  return found;
}

/** Whether a link leaves the repository (a URL with a scheme). */
export function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target);
}

/** The repository-relative path a doc's relative link points to. */
export function resolveFrom(docPath: string, targetPath: string): string {
  return relative(repoRoot, join(repoRoot, dirname(docPath), decodeURIComponent(targetPath)));
}

/** The first fenced code block after the heading `title` (any level), as lines. */
export function codeBlockUnder(text: string, title: string): string[] {
  const lines = text.split("\n");
  const start = lines.findIndex((line) => /^#{1,6}\s/.test(line) && line.replace(/^#+/, "").trim() === title);
  if (start < 0) throw new Error(`no heading "${title}"`);
  const open = lines.findIndex((line, index) => index > start && fence.test(line));
  const close = lines.findIndex((line, index) => index > open && fence.test(line));
  if (open < 0 || close < 0) throw new Error(`no code block under "${title}"`);
  return lines.slice(open + 1, close);
}

/** The part of a doc from the heading `title` (any level) to the next heading of the same or a higher level. */
export function section(text: string, title: string): string {
  const lines = text.split("\n");
  const level = (line: string) => /^(#{1,6})\s/.exec(line)?.[1].length;
  const start = lines.findIndex((line) =>
    level(line) !== undefined && line.replace(/^#+/, "").trim() === title
  );
  if (start < 0) throw new Error(`no heading "${title}"`);
  let inFence = false;
  const end = lines.findIndex((line, index) => {
    if (fence.test(line)) inFence = !inFence;
    const depth = level(line);
    return index > start && !inFence && depth !== undefined && depth <= level(lines[start])!;
  });
  return lines.slice(start, end < 0 ? undefined : end).join("\n");
}

/** The lines of every ```sh block of `text`, as printed (blank lines and whole-line comments left out). */
export function shellLines(text: string): string[] {
  const found: string[] = [];
  let inShell = false;
  let inFence = false;
  for (const line of text.split("\n")) {
    if (fence.test(line)) {
      inShell = !inFence && line.trim() === "```sh";
      inFence = !inFence;
      continue;
    }
    if (inShell && line.trim() !== "" && !line.trim().startsWith("#")) found.push(line);
  }
  return found;
}
