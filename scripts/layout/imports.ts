/**
 * The architecture's import rules, checked over the source tree: the rooms of `supabase/functions/_shared/`
 * may import only the rooms below them, the leaf modules import no room, and no import cycle exists anywhere
 * in the functions, the scripts or the console. `deno task check:layout` prints the violations and exits
 * non-zero on any; `tests/layout/imports.test.ts` runs the same check.
 *
 * @module
 */
import { dirname, join, normalize, relative } from "node:path";

/** One file's relative imports, as repo-relative paths. */
export type ImportGraph = Map<string, string[]>;

/** A room (a folder or a leaf file under `_shared/`) and the rooms it must not import. */
export interface RoomRule {
  /** Repo-relative path prefix of the room. */
  room: string;
  /** Repo-relative path prefixes the room must not import. */
  forbidden: string[];
}

const SHARED = "supabase/functions/_shared";
const room = (name: string) => `${SHARED}/${name}`;
const UPPER = ["handlers/", "admin/"].map(room);

/**
 * The layering, lowest first: leaf modules < fly/, db/, credentials/ < engine/ < controller/ < rollout/ <
 * sweep/ < handlers/, admin/. Each room names what sits above it.
 */
export const ROOM_RULES: RoomRule[] = [
  ...["vocabulary.ts", "backoff.ts", "image_ref.ts", "image_allowed.ts", "bounded.ts", "log.ts"].map((
    leaf,
  ) => ({
    room: room(leaf),
    forbidden: ["fly/", "db/", "credentials/", "engine/", "controller/", "rollout/", "sweep/", "http/"]
      .map(room).concat(UPPER),
  })),
  ...["fly/", "db/", "credentials/"].map((name) => ({
    room: room(name),
    forbidden: ["engine/", "controller/", "rollout/", "sweep/", "http/"].map(room).concat(UPPER),
  })),
  { room: room("engine/"), forbidden: ["controller/", "rollout/", "sweep/"].map(room).concat(UPPER) },
  { room: room("controller/"), forbidden: ["rollout/", "sweep/"].map(room).concat(UPPER) },
  { room: room("rollout/"), forbidden: [room("sweep/"), ...UPPER] },
  { room: room("sweep/"), forbidden: UPPER },
];

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*["'](\.{1,2}\/[^"']+)["']/g;
const DYNAMIC = /import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;

/** The relative import specifiers of one module's source text. */
export function relativeImports(source: string): string[] {
  const found = [...source.matchAll(IMPORT), ...source.matchAll(DYNAMIC)].map((m) => m[1]);
  return [...new Set(found)];
}

/** Reads every `.ts`/`.js` file below `dirs` (repo-relative) into an import graph. */
export async function readImportGraph(root: string, dirs: string[]): Promise<ImportGraph> {
  const graph: ImportGraph = new Map();
  async function walk(dir: string) {
    for await (const entry of Deno.readDir(join(root, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory && entry.name !== "node_modules" && !entry.name.startsWith(".")) await walk(path);
      else if (entry.isFile && /\.(ts|js)$/.test(entry.name)) {
        const source = await Deno.readTextFile(join(root, path));
        graph.set(path, relativeImports(source).map((spec) => normalize(join(dirname(path), spec))));
      }
    }
  }
  for (const dir of dirs) await walk(dir);
  return graph;
}

/** Every import that breaks a {@link RoomRule}, as `from → to`. */
export function ruleViolations(graph: ImportGraph, rules: RoomRule[] = ROOM_RULES): string[] {
  const violations: string[] = [];
  for (const [from, targets] of graph) {
    for (const rule of rules.filter((r) => from.startsWith(r.room))) {
      for (const to of targets.filter((t) => rule.forbidden.some((f) => t.startsWith(f)))) {
        violations.push(`${from} → ${to} (${relative(SHARED, rule.room)} must not import it)`);
      }
    }
  }
  return violations;
}

/** The import cycles of `graph` (strongly connected components of more than one module, or a self-import). */
export function importCycles(graph: ImportGraph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) cycles.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles;
}

/** The folders whose modules the check reads. */
export const CHECKED_DIRS = ["supabase/functions", "scripts", "console/src", "tests"];

if (import.meta.main) {
  const root = normalize(join(dirname(new URL(import.meta.url).pathname), "../.."));
  const graph = await readImportGraph(root, CHECKED_DIRS);
  const problems = [
    ...ruleViolations(graph),
    ...importCycles(graph).map((cycle) => `import cycle: ${cycle.join(" ↔ ")}`),
  ];
  for (const problem of problems) console.error(problem);
  console.log(`layout: ${graph.size} modules, ${problems.length} problem(s)`);
  Deno.exit(problems.length === 0 ? 0 : 1);
}
