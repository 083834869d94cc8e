/**
 * The property test's steps over user data (issue 22): machines writing to their volumes, operators'
 * snapshots, restores and reverts through the admin API, a lost host, days passing on Fly's clock (daily
 * snapshots, expiry) and kept volumes reaching the end of their keep period. The elite plan has a volume in
 * every sequence (`ELITE_VOLUME` in `model.ts`), so tier changes create, restore and delete volumes alongside these.
 * A step labelled `u1+` acts on user 1 if they have a volume, else on the next user who has one.
 *
 * What they promise, checked by `invariants.ts`: no volume is deleted without a created snapshot holding its
 * data; a user's volume holds only what that user's machines wrote (or nothing); a lost host is recovered from
 * a snapshot or, without one, left in place with the row in `error`; a kept volume the rows list exists.
 *
 * @module
 */
import fc from "fast-check";
import { admin } from "../e2e/admin_support.ts";
import type { EmulatedApp } from "../e2e/_support.ts";
import type { Model, World } from "./model.ts";
import { step, type StepKind } from "./steps.ts";

/** One day on Fly's clock, in ms. */
const DAY_MS = 86_400_000;

/** Admin answers a data step accepts as "nothing wrong" besides success: refused (409), or Fly refused (502). */
const REFUSALS = new Set([404, 409, 502]);

/** How long a data step waits for an elite user's volume to exist (their provision may be in flight). */
const VOLUME_WAIT_MS = 8_000;

/**
 * The user a data step acts on: user `u` if their apps have a volume, else the next one (cyclically) that has,
 * so the steps mostly land where there is data. While nobody has one yet but an elite user should, it waits
 * (up to {@link VOLUME_WAIT_MS}) for their provision to make it; `u` itself when nobody gets one.
 */
async function userWithVolume(model: Model, world: World, u: number): Promise<string> {
  const until = Date.now() + VOLUME_WAIT_MS;
  const expected = model.users.some((user) => model.tier.get(user) === "elite");
  do {
    for (let i = 0; i < model.users.length; i++) {
      const user = model.users[(u + i) % model.users.length];
      if ((await world.stack.appsOf(user)).some((app) => app.volumes.length > 0)) return user;
    }
    if (expected) await new Promise((resolve) => setTimeout(resolve, 250));
  } while (expected && Date.now() < until);
  return model.users[u];
}

/** The volume ids the user's started machines mount (what a running machine can write to). */
function mountedByStarted(apps: EmulatedApp[]): string[] {
  return apps.flatMap((app) =>
    app.machines.filter((machine) => machine.state === "started").flatMap((machine) =>
      ((machine.config as { mounts?: { volume?: string }[] }).mounts ?? []).map((mount) => mount.volume ?? "")
    )
  ).filter((id) => id !== "");
}

/** Throws unless the admin API answered `ok` or a refusal that changes nothing. */
function expectAnswer(what: string, answer: { status: number; body: unknown }, ok: number[]): boolean {
  if (ok.includes(answer.status)) return true;
  if (REFUSALS.has(answer.status)) return false;
  throw new Error(`${what} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
}

/** The data steps, appended to the table of `steps.ts` by the property test. */
export const DATA_STEP_KINDS: StepKind[] = [
  {
    name: "a machine writes to its volume",
    weight: 2,
    arbitrary: (users) =>
      fc.nat(users - 1).map((u) =>
        step(`write u${u}+`, {
          run: async (m, w) => {
            const user = await userWithVolume(m, w, u);
            const fingerprint = `${user.slice(0, 8)}#${++m.writes}`;
            for (const volumeId of mountedByStarted(await w.stack.appsOf(user))) {
              try {
                w.stack.emulator.writeVolumeData(volumeId, fingerprint, { byMachine: true });
              } catch {
                continue; // its machine stopped or the volume went meanwhile: nothing written
              }
              m.written.set(user, (m.written.get(user) ?? new Set()).add(fingerprint));
            }
          },
        })
      ),
  },
  {
    name: "ops snapshot (admin API)",
    weight: 2,
    arbitrary: (users) =>
      fc.nat(users - 1).map((u) =>
        step(`ops snapshot u${u}+`, {
          run: async (m, w) => {
            const answer = await admin(w.stack, `/apps/${await userWithVolume(m, w, u)}/snapshots`, {
              method: "POST",
              body: { reason: "property" },
              actor: "property-test",
            });
            expectAnswer("ops snapshot", answer, [201, 202]);
          },
        })
      ),
  },
  {
    name: "ops restore from the newest snapshot, or revert (admin API, kept 1 day)",
    weight: 2,
    arbitrary: (users) =>
      fc.record({ u: fc.nat(users - 1), revert: fc.boolean() }).map(({ u, revert }) =>
        step(`ops restore u${u}+${revert ? " --revert" : ""}`, {
          run: async (m, w) => {
            const answer = await admin(w.stack, `/apps/${await userWithVolume(m, w, u)}/restore`, {
              method: "POST",
              body: { revert, keep_days: 1, reason: "property" },
              actor: "property-test",
            });
            expectAnswer("ops restore", answer, [200]);
          },
        })
      ),
  },
  {
    name: "a host dies (its volumes unreachable, or only its machines)",
    arbitrary: (users) =>
      fc.record({ u: fc.nat(users - 1), volumes: fc.boolean() }).map(({ u, volumes }) =>
        step(`host of u${u}+ dies${volumes ? "" : " (machines only)"}`, {
          run: async (m, w) => {
            const hosts = new Set(
              (await w.stack.appsOf(await userWithVolume(m, w, u))).flatMap((app) =>
                app.volumes.map((volume) => volume.host)
              ),
            );
            for (const host of hosts) {
              w.stack.emulator.setHostStatus(host, "unreachable", { volumes });
              m.deadHosts.add(host);
            }
            // Hosts are shared: every user with a volume there lost it.
            for (const user of m.users) {
              const apps = await w.stack.appsOf(user);
              if (apps.some((app) => app.volumes.some((volume) => hosts.has(volume.host)))) {
                m.hostLost.add(user);
              }
            }
          },
        })
      ),
  },
  {
    name: "days pass on Fly (daily automatic snapshots; snapshots past their retention expire)",
    arbitrary: () =>
      fc.constantFrom(1, 6).map((days) =>
        step(`clock +${days}d`, {
          run: (_m, w) => Promise.resolve(w.stack.emulator.advanceClock(days * DAY_MS)),
        })
      ),
  },
  {
    name: "kept volumes reach the end of their keep period (the cron job makes their users due)",
    arbitrary: () =>
      fc.constant(step("keep period over", {
        run: async (m, w) => {
          await w.stack.sql`update public.user_fly_volume_moves set keep_until = now() - interval '1 second'
            where kept_state = 'kept' and user_id = any(${m.users}::uuid[])`;
          await w.stack.sql`select private.make_expired_kept_volumes_due()`;
        },
      })),
  },
];

/** Brings every host the sequence killed back (settling: a dead host is not forever). */
export function reviveHosts(model: Model, world: World): void {
  for (const host of model.deadHosts) world.stack.emulator.setHostStatus(host, "ok");
  model.deadHosts.clear();
}
