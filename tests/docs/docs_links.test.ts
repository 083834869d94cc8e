/**
 * The prose docs link to each other and to files of the repository: every relative link of README.md and
 * docs/*.md must name a file or folder that exists, and every `#anchor` a heading of the file it points to.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { assert, assertEquals } from "../_support/assert.ts";
import { anchors, isExternal, links, proseDocs, repoRoot, resolveFrom, slug } from "./_markdown.ts";

Deno.test("every relative link and anchor of README.md and docs/*.md resolves", async () => {
  const docs = await proseDocs();
  const anchorsOf = new Map(docs.map((doc) => [doc.path, anchors(doc.text)]));
  const broken: string[] = [];
  let checked = 0;
  for (const doc of docs) {
    for (const { target, line } of links(doc.text)) {
      if (isExternal(target)) continue;
      checked++;
      const [file, anchor] = target.split("#", 2);
      const path = file === "" ? doc.path : resolveFrom(doc.path, file);
      const where = `${doc.path}:${line} (${target})`;
      if (!existsSync(join(repoRoot, path))) {
        broken.push(`${where}: no file ${path}`);
      } else if (anchor !== undefined) {
        const targetAnchors = anchorsOf.get(path);
        if (!targetAnchors) broken.push(`${where}: ${path} is not a prose doc, so it has no anchors`);
        else if (!targetAnchors.has(anchor)) broken.push(`${where}: ${path} has no heading #${anchor}`);
      }
    }
  }
  assertEquals(broken, []);
  assert(checked > 10, `only ${checked} relative links found: is the link parser still reading the docs?`);
});

Deno.test("the link checker itself: anchors as GitHub makes them, links outside code only", () => {
  assertEquals(slug("Health, drift and the sweep"), "health-drift-and-the-sweep");
  assertEquals(slug("`deno task ops` and [the API](x.md)"), "deno-task-ops-and-the-api");
  assertEquals([...anchors("# A\n## A\n```\n# not a heading\n```\n<!-- # nor this -->")], ["a", "a-1"]);
  const text = [
    "See [a](a.md#x) and ![img](p.png).",
    "`[not](code.md)`",
    "```",
    "[nor](fenced.md)",
    "```",
    "<!-- [nor](comment.md) -->",
    "[ref]: ref.md",
  ].join("\n");
  assertEquals(links(text).map((link) => link.target), ["a.md#x", "p.png", "ref.md"]);
  assertEquals(resolveFrom("docs/operations.md", "../.env.example"), ".env.example");
});
