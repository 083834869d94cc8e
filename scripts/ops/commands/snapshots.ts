/**
 * Snapshot commands: `snapshots USER` (the snapshots this system took of the user's volumes, and Fly's own
 * listing of the current volume, daily ones included) and `snapshot USER [--reason]` (an on-demand snapshot
 * of the current volume, recorded with the operator), `restore USER [--snapshot ID] [--keep-days N]` (the
 * machine onto a new volume from the snapshot, the old volume kept) and `restore USER --revert` (back onto
 * the kept volume).
 *
 * @module
 */
import type { Command } from "commander";
import { parseResponse } from "hono/client";
import { type Column, table } from "../output.ts";
import { admin, type CommandContext, positiveInt, print, userId, withJson } from "../context.ts";

/** A snapshot row as the admin API lists it. */
type Snapshot = Record<string, unknown>;

/** Bytes as MB with one decimal, or empty. */
function megabytes(bytes: unknown): string {
  return typeof bytes === "number" ? `${(bytes / 1024 ** 2).toFixed(1)} MB` : "";
}

/** The columns of the recorded snapshots. */
const RECORDED_COLUMNS: Column<Snapshot>[] = [
  { header: "snapshot", value: (s) => s.snapshot_id, whole: true },
  { header: "reason", value: (s) => s.reason },
  { header: "status", value: (s) => s.status },
  { header: "volume", value: (s) => s.volume_id, whole: true },
  { header: "region", value: (s) => s.region },
  { header: "size", value: (s) => megabytes(s.size_bytes) },
  { header: "created", value: (s) => s.created_at ?? `requested ${s.requested_at}` },
  { header: "expires", value: (s) => s.expires_at },
];

/** The columns of Fly's listing of the current volume. */
const FLY_COLUMNS: Column<Snapshot>[] = [
  { header: "snapshot", value: (s) => s.id, whole: true },
  { header: "status", value: (s) => s.status },
  { header: "size", value: (s) => megabytes(s.size) },
  { header: "created", value: (s) => s.created_at },
  { header: "retention", value: (s) => s.retention_days === undefined ? "" : `${s.retention_days} d` },
];

/** Registers the snapshot commands. */
export function registerSnapshotCommands(program: Command, ctx: CommandContext): void {
  withJson(
    program.command("snapshots").description("a user's volume snapshots: recorded ones and Fly's listing")
      .argument("<user>", "user id", userId),
  ).action(async (user, options) => {
    const result = await parseResponse(
      admin(ctx).apps[":user_id"].snapshots.$get({ param: { user_id: user } }),
    );
    print(ctx, options, result, (r) => {
      const layout = ctx.layout();
      const recorded = table(r.snapshots as Snapshot[], RECORDED_COLUMNS, { layout, empty: "none recorded" });
      const fly = r.fly === null
        ? "no volume now"
        : table(r.fly as Snapshot[], FLY_COLUMNS, { layout, empty: "none listed" });
      return `taken by this system:\n${recorded}\n\non Fly, of the current volume ${
        r.volume_id ?? ""
      }:\n${fly}`;
    });
  });

  withJson(
    program.command("snapshot").description("take a snapshot of a user's volume now (waits up to 20 s)")
      .argument("<user>", "user id", userId)
      .option("--reason <text>", "recorded in the events"),
  ).action(async (user, options) => {
    const result = await parseResponse(
      admin(ctx).apps[":user_id"].snapshots.$post({
        param: { user_id: user },
        json: { reason: options.reason },
      }),
    );
    print(ctx, options, result, (r) => {
      const snapshot = r.snapshot as Snapshot;
      return snapshot.status === "created"
        ? `snapshot ${snapshot.snapshot_id} of volume ${snapshot.volume_id} created (expires ${snapshot.expires_at})`
        : `snapshot of volume ${snapshot.volume_id} requested; Fly is still taking it (see: ops snapshots ${user})`;
    });
  });

  withJson(
    program.command("restore")
      .description("move a user's machine onto a new volume from a snapshot (the old one kept), or --revert")
      .argument("<user>", "user id", userId)
      .option("--snapshot <id>", "the snapshot (default: the newest within its retention)")
      .option("--revert", "back onto the volume the last restore kept")
      .option("--keep-days <n>", "days the volume left behind is kept (default 7, at most 60)", positiveInt)
      .option("--reason <text>", "recorded in the events"),
  ).action(async (user, options) => {
    const result = await parseResponse(
      admin(ctx).apps[":user_id"].restore.$post({
        param: { user_id: user },
        json: {
          snapshot_id: options.snapshot,
          revert: options.revert ?? false,
          keep_days: options.keepDays,
          reason: options.reason,
        },
      }),
    );
    print(ctx, options, result, (r) => {
      const move = r.move as Record<string, unknown>;
      const what = r.kind === "revert" ? "reverted to" : `restored ${move.snapshot_id} into`;
      return move.state === "done"
        ? `${what} volume ${move.to_volume_id}; volume ${move.from_volume_id} kept until ${move.keep_until} ` +
          `(reconcile: ${(r.reconcile as { outcome?: string }).outcome})`
        : `${r.kind} of ${user} requested; not applied yet (reconcile: ${
          (r.reconcile as { outcome?: string }).outcome
        })`;
    });
  });
}
