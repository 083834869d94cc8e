/**
 * The order of the org machine listing: every machine of the organization, oldest change first, kept up to
 * date as machines change, so that a page costs O(log n + page) instead of a sort of the whole fleet.
 *
 * It is an append-only change log: each change of a machine appends an entry with the next sequence number and
 * makes the machine's previous entry stale. Stale entries are skipped when reading and dropped once they
 * outnumber the live ones (amortised O(1) per change). A cursor is a sequence number, so it stays valid across
 * changes and compactions: a machine that changes while someone pages moves behind their cursor and is listed
 * again later, never skipped.
 */
import type { AppRecord, MachineRecord } from "./records.ts";

/** One change of one machine. */
export interface IndexEntry {
  /** Position in the log; strictly increasing. */
  readonly seq: number;
  /** `updated_at` of the change in epoch ms, made non-decreasing along the log. */
  readonly at: number;
  /** The machine's app (kept after the app is deleted, for `app_name`). */
  readonly app: AppRecord;
  readonly machine: MachineRecord;
}

/** Where a read starts: after a sequence number (a cursor), or after an instant (`updated_after`). */
export type ScanStart = { readonly afterSeq: number } | { readonly updatedAfterMs: number };

/** What {@link OrgMachineIndex.scan} found. */
export interface ScanResult {
  /** Accepted entries, in listing order. */
  readonly entries: IndexEntry[];
  /** Sequence number of the last entry looked at (the next read continues after it). */
  readonly position: number;
  /** Whether entries remain after `position`. */
  readonly more: boolean;
}

const COMPACTION_SLACK = 1024;

/** The org listing's change log. One per store. */
export class OrgMachineIndex {
  #entries: IndexEntry[] = [];
  readonly #latest = new Map<MachineRecord, IndexEntry>();
  #nextSeq = 1;
  #lastAt = 0;

  /** Records that `machine` changed (its `updatedAt` is already set): it moves to the end of the listing. */
  touch(app: AppRecord, machine: MachineRecord): void {
    this.#lastAt = Math.max(Date.parse(machine.updatedAt), this.#lastAt);
    const entry: IndexEntry = { seq: this.#nextSeq++, at: this.#lastAt, app, machine };
    this.#entries.push(entry);
    this.#latest.set(machine, entry);
    if (this.#entries.length > 2 * this.#latest.size + COMPACTION_SLACK) this.#compact();
  }

  /** Number of machines indexed. */
  get size(): number {
    return this.#latest.size;
  }

  /**
   * Reads live entries from `start`, in order, until `limit` of them pass `accept` or the log ends. `accept`
   * is called once per live entry looked at.
   */
  scan(start: ScanStart, limit: number, accept: (entry: IndexEntry) => boolean): ScanResult {
    const entries: IndexEntry[] = [];
    let index = "afterSeq" in start
      ? this.#firstIndex((entry) => entry.seq > start.afterSeq)
      : this.#firstIndex((entry) => entry.at > start.updatedAfterMs);
    let position = this.#entries[index - 1]?.seq ?? ("afterSeq" in start ? start.afterSeq : 0);
    while (index < this.#entries.length && entries.length < limit) {
      const entry = this.#entries[index++];
      position = entry.seq;
      if (this.#latest.get(entry.machine) === entry && accept(entry)) entries.push(entry);
    }
    return { entries, position, more: index < this.#entries.length };
  }

  /** Forgets everything. */
  clear(): void {
    this.#entries = [];
    this.#latest.clear();
  }

  /** Index of the first entry for which `after` holds (`after` is monotonic along the log). */
  #firstIndex(after: (entry: IndexEntry) => boolean): number {
    let low = 0;
    let high = this.#entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (after(this.#entries[middle])) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  #compact(): void {
    this.#entries = this.#entries.filter((entry) => this.#latest.get(entry.machine) === entry);
  }
}
