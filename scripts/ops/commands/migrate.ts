/**
 * `migrate`: provisions every paid user who has no app yet (the seed system's existing Pro/Elite users)
 * through the same durable rows as a tier change: each round gives up to `--batch` users a due row (only as
 * many as keep at most `--batch` in progress), kicks their reconcile through provision-user-fly-app (as the
 * trigger does; a lost kick is re-driven by the regular sweep), and reports progress with a bar, rate and ETA.
 * Resumable: running it again continues where it stopped. Ends with a table of failures.
 *
 * @module
 */
import type { Command } from "commander";
import cliProgress from "cli-progress";
import { OperationError } from "../errors.ts";
import { table } from "../output.ts";
import { parseResponse } from "hono/client";
import { admin, type CommandContext, positiveInt, print, withJson } from "../context.ts";

/** Progress of the paid users, as `GET /migrate` reports it. */
export interface MigrationProgress {
  paid_users: number;
  without_row: number;
  active: number;
  in_progress: number;
  failed: number;
  errors: { user_id: string; status: string; error_message: string | null; retry_count: number }[];
}

/** Whether nothing is left to do (every paid user active or permanently failed). */
export function migrationDone(progress: MigrationProgress): boolean {
  return progress.without_row === 0 && progress.in_progress === 0;
}

/** How many users to enqueue now so that at most `window` are in progress. */
export function nextBatch(progress: MigrationProgress, window: number): number {
  return Math.max(0, Math.min(progress.without_row, window - progress.in_progress));
}

/** The closing line: how many, how fast, how many failed. */
export function summaryLine(progress: MigrationProgress, started: number, elapsedMs: number): string {
  const done = progress.active - started;
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  return `migrate: ${progress.active}/${progress.paid_users} paid users active (${done} new in ` +
    `${(elapsedMs / 1000).toFixed(1)} s, ${rate.toFixed(2)}/s), ${progress.in_progress} in progress, ` +
    `${progress.without_row} not started, ${progress.failed} failed`;
}

/** Registers `migrate`. */
export function registerMigrateCommand(program: Command, ctx: CommandContext): void {
  withJson(
    program.command("migrate").description("provision every paid user without an app, paced, resumable")
      .option("--batch <n>", "at most this many users in progress at once", positiveInt, 20)
      .option("--interval-ms <ms>", "pause between progress checks", positiveInt, 1000)
      .option("--timeout-s <s>", "give up (resumable) after this long", positiveInt, 1800),
  ).action(async (options) => {
    const started = Date.now();
    let progress: MigrationProgress = await parseResponse(admin(ctx).migrate.$get());
    const initialActive = progress.active;
    const bar = new cliProgress.SingleBar({
      format:
        "migrate [{bar}] {value}/{total} active | {rate}/s | ETA {eta_formatted} | in progress {busy} | failed {failed}",
      stream: ctx.progressStream,
      noTTYOutput: true,
      notTTYSchedule: 2000,
      etaBuffer: 20,
    }, cliProgress.Presets.shades_classic);
    const payload = () => ({
      busy: progress.in_progress + progress.without_row,
      failed: progress.failed,
      rate: ((progress.active - initialActive) / Math.max((Date.now() - started) / 1000, 0.001)).toFixed(2),
    });
    if (!options.json) bar.start(progress.paid_users, progress.active, payload());
    while (!migrationDone(progress) && Date.now() - started < options.timeoutS * 1000) {
      const batch = nextBatch(progress, options.batch);
      if (batch > 0) {
        const answer = await parseResponse(admin(ctx).migrate.$post({ json: { batch } }));
        progress = answer.progress;
        await Promise.all(answer.user_ids.map((user_id) =>
          ctx.api().call({
            fn: "provision-user-fly-app",
            method: "POST",
            body: { user_id, reason: "migrate" },
          })
        ));
      }
      await ctx.sleep(options.intervalMs);
      progress = await parseResponse(admin(ctx).migrate.$get());
      if (!options.json) bar.update(progress.active, payload());
    }
    if (!options.json) bar.stop();
    const finished = migrationDone(progress);
    print(ctx, options, { ...progress, finished }, (p) =>
      [
        summaryLine(p, initialActive, Date.now() - started),
        p.errors.length
          ? table(p.errors, [
            { header: "user", value: (e) => e.user_id },
            { header: "status", value: (e) => e.status },
            { header: "retries", value: (e) => e.retry_count },
            { header: "error", value: (e) => e.error_message },
          ], { layout: ctx.layout() })
          : "no failures",
        finished ? "" : "not finished: run `deno task ops migrate` again to continue",
      ].filter(Boolean).join("\n"));
    if (!finished || progress.failed > 0) {
      throw new OperationError(
        finished
          ? `${progress.failed} paid user(s) failed; see the table`
          : "migration did not finish in time",
        0,
        progress,
      );
    }
  });
}
