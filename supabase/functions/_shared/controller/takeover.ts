/**
 * Handing a user from one function instance to another without meeting Fly's per-app and per-machine limits.
 *
 * Fly counts most limits per app or per machine (1 request/s with bursts of 3 per action). The client keeps
 * those buckets in the limiter of the instance that holds the user's lease; only the org-wide ones live in
 * Postgres. A reconciler in another instance that leases the row right after the previous holder let go
 * would start with full buckets while Fly's may have just been emptied: measured in the bulk benchmark, a
 * health sweep that re-checked a user 0.2 s after a batch hop provisioned it sent the fourth `Machines_list`
 * of that second and got a 429. So when the row was let go by another instance less than
 * {@link PER_IDENTIFIER_REFILL_MS} ago (the row's `lease_released_at` and `lease_released_by`, stamped by a
 * trigger whenever a lease ends), the attempt's calls start cold: each in-process bucket holds no more than
 * it would have refilled since that moment, so a call waits only when Fly's bucket may really be short. An
 * owner this instance ran itself shares its limiter and starts warm.
 *
 * @module
 */
import type { UserFlyApp } from "../db/user_fly_apps.ts";
import { type FlyClient, PER_IDENTIFIER_REFILL_MS } from "../fly/mod.ts";

/** Owners remembered per client; far more than one instance runs within a refill period. */
const REMEMBERED_OWNERS = 10_000;

/** Lease owners each Fly client (one per function instance) has run attempts for, oldest first. */
const ownersByClient = new WeakMap<FlyClient, Set<string>>();

/** Records that `fly` (the instance's client, not a scoped one) serves the lease owner `owner`. */
export function rememberLeaseOwner(fly: FlyClient, owner: string): void {
  let owners = ownersByClient.get(fly);
  if (!owners) {
    owners = new Set();
    ownersByClient.set(fly, owners);
  }
  owners.delete(owner);
  owners.add(owner);
  if (owners.size > REMEMBERED_OWNERS) owners.delete(owners.values().next().value!);
}

/**
 * When the attempt's per-app buckets start cold (epoch ms, for `FlyClient.scoped`), or undefined when they
 * need not: never leased, let go by an owner `fly` ran, or long enough ago for Fly to have refilled. Never
 * later than `now`, so a database clock ahead of this one cannot hold calls back further.
 */
export function takeoverColdSince(
  fly: FlyClient,
  row: UserFlyApp,
  now: number = Date.now(),
): number | undefined {
  const releasedBy = row.lease_released_by ?? null;
  if (!row.lease_released_at || releasedBy === null || ownersByClient.get(fly)?.has(releasedBy)) {
    return undefined;
  }
  const releasedAt = Math.min(Date.parse(row.lease_released_at), now);
  return now - releasedAt < PER_IDENTIFIER_REFILL_MS ? releasedAt : undefined;
}
