/** The emulator's org listing order: change log, stale entries, compaction, cursors that survive it. */
import { OrgMachineIndex } from "../../scripts/local/fly-emulator/org_machine_index.ts";
import type { AppRecord, MachineRecord } from "../../scripts/local/fly-emulator/records.ts";
import { assertEquals } from "../_support/assert.ts";

const app = { name: "idx" } as AppRecord;

function machine(id: string, updatedAt: number): MachineRecord {
  return { id, updatedAt: new Date(updatedAt).toISOString() } as MachineRecord;
}

function changed(index: OrgMachineIndex, record: MachineRecord, at: number): void {
  record.updatedAt = new Date(at).toISOString();
  index.touch(app, record);
}

const everything = () => true;

Deno.test("org machine index: a cursor taken before thousands of changes and a compaction still continues correctly", () => {
  const index = new OrgMachineIndex();
  const machines = Array.from({ length: 10 }, (_, i) => machine(`m${i}`, 1_000 + i));
  machines.forEach((record) => index.touch(app, record));
  const first = index.scan({ afterSeq: 0 }, 4, everything);
  assertEquals(first.entries.map((entry) => entry.machine.id), ["m0", "m1", "m2", "m3"]);
  assertEquals(first.more, true);

  // m9 and m1 change 3,000 times in turn: far more stale entries than live ones, so the log is compacted.
  for (let i = 0; i < 3_000; i++) changed(index, machines[i % 2 === 0 ? 9 : 1], 2_000 + i);
  assertEquals(index.size, 10);
  const rest = index.scan({ afterSeq: first.position }, 100, everything);
  assertEquals(
    rest.entries.map((entry) => entry.machine.id),
    ["m4", "m5", "m6", "m7", "m8", "m9", "m1"],
    "each machine once, at its latest change; the already listed m1 comes again",
  );
  assertEquals(rest.more, false);
});

Deno.test("org machine index: updated_after starts after the instant; a filter does not stop the scan early", () => {
  const index = new OrgMachineIndex();
  const machines = Array.from({ length: 6 }, (_, i) => machine(`m${i}`, 1_000 + i * 10));
  machines.forEach((record) => index.touch(app, record));
  const after = index.scan({ updatedAfterMs: 1_020 }, 10, everything);
  assertEquals(after.entries.map((entry) => entry.machine.id), ["m3", "m4", "m5"]);
  const odd = index.scan({ afterSeq: 0 }, 2, (entry) => Number(entry.machine.id.slice(1)) % 2 === 1);
  assertEquals([odd.entries.map((entry) => entry.machine.id), odd.more], [["m1", "m3"], true]);
  const next = index.scan(
    { afterSeq: odd.position },
    2,
    (entry) => Number(entry.machine.id.slice(1)) % 2 === 1,
  );
  assertEquals([next.entries.map((entry) => entry.machine.id), next.more], [["m5"], false]);
});

Deno.test("org machine index: a clock that steps back does not break the updated_after search", () => {
  const index = new OrgMachineIndex();
  const [a, b, c] = [machine("a", 5_000), machine("b", 4_000), machine("c", 6_000)];
  [a, b, c].forEach((record) => index.touch(app, record));
  assertEquals(index.scan({ updatedAfterMs: 4_500 }, 10, everything).entries.map((e) => e.machine.id), [
    "a",
    "b",
    "c",
  ]);
});
