-- The private SQL API the reconcile engine (Edge Functions, connected as the database owner through
-- SUPABASE_DB_URL) uses: append-only events, the patch whitelist, desired state and spec, leases, outcomes
-- and observations, the shared rate buckets, and the status read by users. Decisions (backoff, alerts,
-- health, drift) live in TypeScript; SQL keeps what must be atomic. Every private function is SECURITY
-- DEFINER with an empty search_path and executable by neither anon nor authenticated (nor PUBLIC).
--
-- Rows are returned as jsonb (to_jsonb of a public.user_fly_apps row) so callers parse one shape everywhere.
-- Lease timestamps use now(): call these functions in autocommit mode, one call per transaction.

-- ---------------------------------------------------------------------------------------------------------
-- Events are append-only.

-- The private SQL API the reconcile engine (Edge Functions, connected as the database owner through
-- SUPABASE_DB_URL) uses to lease rows and record outcomes. Every function here is SECURITY DEFINER with an
-- empty search_path and is executable by neither anon nor authenticated (nor PUBLIC).
--
-- Rows are returned as jsonb (to_jsonb of a public.user_fly_apps row) so callers parse one shape everywhere.
-- Lease timestamps use now(): call these functions in autocommit mode, one call per transaction.

-- ---------------------------------------------------------------------------------------------------------
-- Events are append-only.
create or replace function private.reject_event_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'user_fly_app_events is append-only (% refused)', tg_op using errcode = '42501';
end
$$;

drop trigger if exists user_fly_app_events_append_only on public.user_fly_app_events;

create trigger user_fly_app_events_append_only
  before update or delete on public.user_fly_app_events
  for each row execute function private.reject_event_change();

create or replace function private.append_user_fly_app_event(
  p_user_id uuid,
  p_event_type text,
  p_status text default 'info',
  p_metadata jsonb default '{}'::jsonb,
  p_error_details text default null,
  p_fly_app_id uuid default null
) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_app uuid := p_fly_app_id;
  v_id uuid;
begin
  if p_user_id is null then
    raise exception 'append_user_fly_app_event: user_id is required' using errcode = '22004';
  end if;
  if p_event_type is null or p_event_type !~ '^[a-z][a-z0-9_]{0,62}$' then
    raise exception 'append_user_fly_app_event: event_type % is not snake_case', p_event_type
      using errcode = '22023';
  end if;
  if v_app is null then
    select a.id into v_app from public.user_fly_apps a where a.user_id = p_user_id;
  end if;
  insert into public.user_fly_app_events (fly_app_id, user_id, event_type, status, metadata, error_details)
  values (v_app, p_user_id, p_event_type, coalesce(p_status, 'info'), coalesce(p_metadata, '{}'::jsonb),
          left(p_error_details, 4000))
  returning id into v_id;
  return v_id;
end
$$;
comment on function private.append_user_fly_app_event(uuid, text, text, jsonb, text, uuid) is
  'Appends one audit event for a user (fly_app_id looked up from user_id when null) and returns its id. '
  'event_type is snake_case (provision_started, provision_completed, provision_failed, deprovision_*, '
  'health_changed, repaired, drift_detected, alert_raised, ...); status is info|ok|warning|error. '
  'Never pass secret values in metadata or error_details.';

-- Appends a jsonb array of events [{event_type, status?, metadata?, error_details?}, ...] for one app.
create or replace function private._append_events(p_user_id uuid, p_fly_app_id uuid, p_events jsonb)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_event jsonb;
  v_count integer := 0;
begin
  if p_events is null or p_events = 'null'::jsonb then
    return 0;
  end if;
  if jsonb_typeof(p_events) <> 'array' then
    raise exception 'events must be a jsonb array' using errcode = '22023';
  end if;
  for v_event in select e from jsonb_array_elements(p_events) e loop
    perform private.append_user_fly_app_event(
      p_user_id, v_event ->> 'event_type', coalesce(v_event ->> 'status', 'info'),
      coalesce(v_event -> 'metadata', '{}'::jsonb), v_event ->> 'error_details', p_fly_app_id);
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;
comment on function private._append_events(uuid, uuid, jsonb) is
  'Internal: appends [{event_type, status?, metadata?, error_details?}] for one app; returns the count.';


-- ---------------------------------------------------------------------------------------------------------
-- The patch whitelist and the lease fence.

-- The controller's storage primitives. Decisions (backoff, alerts, health, drift) live in TypeScript
-- (supabase/functions/_shared/reconcile/); SQL keeps what must be atomic:
--   * leases (claim_* and renew, unchanged from 20261122000200) and the lease fence on every write;
--   * ONE whitelist of the columns an outcome or an observation may set (private.user_fly_app_patch_columns),
--     applied by one generic patch;
--   * the generation fence: a tier change recorded while an attempt ran keeps the row due for it;
--   * events appended in the outcome's transaction.

-- The whitelist. tests/reconcile/patch_columns.test.ts asserts it equals the keys of the zod schema
-- UserFlyAppPatchSchema in _shared/db/user_fly_apps.ts.
create or replace function private.user_fly_app_patch_columns()
returns text[]
language sql
immutable
security definer
set search_path = ''
as $$
  select array[
    'status', 'fly_app_name', 'fly_org_slug', 'region', 'docker_image', 'cpu_kind', 'cpu_count', 'memory_mb',
    'machine_id', 'image_digest', 'secrets_version', 'secrets_digest', 'deployed_at', 'deleted_at',
    'health_status', 'last_health_check_at', 'monthly_cost_estimate_usd', 'error_message', 'retry_count',
    'next_attempt_at', 'observed_generation', 'drift', 'last_machine_state', 'last_observed_at',
    'delete_after', 'volume_id', 'credential_expires_at', 'credential_key_id'
  ]::text[]
$$;
comment on function private.user_fly_app_patch_columns() is
  'The columns of user_fly_apps an outcome or an observation may set (everything else is desired state, '
  'lease or identity, written only by their own primitives).';

-- Applies a whitelisted patch to one row: each key present sets its column (JSON null clears it); a key not
-- in the whitelist raises 22023, so a typo fails loudly instead of being dropped.
create or replace function private._apply_patch(p_app_id uuid, p_patch jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_unknown text;
  v_set text;
begin
  if p_patch is null or p_patch = '{}'::jsonb then
    return;
  end if;
  if jsonb_typeof(p_patch) <> 'object' then
    raise exception 'patch must be a jsonb object' using errcode = '22023';
  end if;
  select string_agg(k, ', ' order by k) into v_unknown
  from jsonb_object_keys(p_patch) k
  where k <> all (private.user_fly_app_patch_columns());
  if v_unknown is not null then
    raise exception 'patch has unknown or read-only keys: %', v_unknown using errcode = '22023';
  end if;
  select string_agg(format('%I = p.%I', k, k), ', ') into v_set from jsonb_object_keys(p_patch) k;
  execute format(
    'update public.user_fly_apps a set %s, updated_at = now() '
    'from jsonb_populate_record(null::public.user_fly_apps, $1) p where a.id = $2', v_set)
  using p_patch, p_app_id;
end
$$;
comment on function private._apply_patch(uuid, jsonb) is
  'Internal: sets the whitelisted columns (private.user_fly_app_patch_columns) of one row from a jsonb '
  'object; unknown keys raise 22023.';

-- Raises 55000 unless p_owner holds the lease of the row; returns the locked row.
create or replace function private._lock_leased(p_app_id uuid, p_owner text)
returns public.user_fly_apps
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.user_fly_apps;
begin
  select * into v_row from public.user_fly_apps a where a.id = p_app_id for update;
  if not found then
    raise exception 'user_fly_apps row % does not exist', p_app_id using errcode = 'P0002';
  end if;
  if v_row.lease_owner is distinct from p_owner or p_owner is null then
    raise exception 'lease_not_held: user_fly_apps row % is leased by %, not by %',
      p_app_id, coalesce(v_row.lease_owner, 'nobody'), p_owner
      using errcode = '55000', hint = 'The lease expired and another reconciler took the row over; stop.';
  end if;
  return v_row;
end
$$;
comment on function private._lock_leased(uuid, text) is
  'Internal: locks the row and raises SQLSTATE 55000 (lease_not_held) unless p_owner holds its lease.';


-- ---------------------------------------------------------------------------------------------------------
-- Desired state: the tier -> desired state rule, due now with a clean slate, the desired spec.

-- The one rule for "due now with a clean slate": a row a tier change, a newer generation or an ops retry
-- hands back to the controller is due at once, its retry count reset, and a retryable or permanent failure
-- (and, when reactivated, a deleted row) goes back to pending. Used by _apply_desired_state, record_outcome
-- and retry_user_fly_apps as `(status, retry_count, next_attempt_at) = (select * from private.due_now(...))`.
create or replace function private.due_now(
  p_status text,
  p_reactivate boolean default false,
  out status text,
  out retry_count integer,
  out next_attempt_at timestamptz
)
language sql
stable
security definer
set search_path = ''
as $$
  select case when p_status in ('error', 'failed') or (p_reactivate and p_status = 'deleted') then 'pending'
              else p_status end,
         0,
         now()
$$;
comment on function private.due_now(text, boolean) is
  'Due now with a clean slate: (status: error/failed, and deleted when p_reactivate, back to pending; '
  'retry_count 0; next_attempt_at now()). The one place for that rule.';

-- ---------------------------------------------------------------------------------------------------------
-- The tier -> desired state rule (one place) and its recording.

create or replace function private.tier_has_app(p_tier text) returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((select p.dedicated_app from public.fly_plans p where p.tier = p_tier), false)
$$;
comment on function private.tier_has_app(text) is
  'Whether a tier''s plan comes with a dedicated app (false for an unknown or null tier): the one rule that '
  'turns a tier into desired state present or absent.';

create or replace function private._apply_desired_state(p_user_id uuid, p_tier text)
returns table (changed boolean, app_id uuid, desired_state text, desired_generation bigint)
language plpgsql
security definer
set search_path = ''
as $$
begin
  if private.tier_has_app(p_tier) then
    return query
    insert into public.user_fly_apps as a (user_id, desired_state, desired_tier, desired_generation, status,
                                           next_attempt_at)
    values (p_user_id, 'present', p_tier, 1, 'pending', now())
    on conflict (user_id) do update set
      desired_state = 'present',
      desired_tier = p_tier,
      desired_generation = a.desired_generation + 1,
      (status, retry_count, next_attempt_at) = (select d.* from private.due_now(a.status, true) d),
      error_message = null,
      deleted_at = null,
      updated_at = now()
    returning true, a.id, a.desired_state, a.desired_generation;
  else
    return query
    update public.user_fly_apps a set
      desired_state = 'absent',
      desired_tier = p_tier,
      desired_generation = a.desired_generation + 1,
      (status, retry_count, next_attempt_at) = (select d.* from private.due_now(a.status) d),
      error_message = null,
      updated_at = now()
    where a.user_id = p_user_id and a.desired_state = 'present'
    returning true, a.id, a.desired_state, a.desired_generation;
    if not found then
      -- Nothing to do on Fly, but the tier is recorded (a free -> another free tier change is not a diff).
      update public.user_fly_apps a set desired_tier = p_tier
      where a.user_id = p_user_id and a.desired_tier is distinct from p_tier;
      return query select false, null::uuid, 'absent'::text, null::bigint;
    end if;
  end if;
end
$$;
comment on function private._apply_desired_state(uuid, text) is
  'Internal: records the desired state for a tier (private.tier_has_app): upsert + desired_generation bump + '
  'due now, and desired_tier; changed=false when nothing needed recording (absent and no row wanting an app).';

create or replace function private.fly_rollout_spec_for_user(p_user_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'rollout_id', r.id, 'state', r.state, 'direction', r.direction, 'target_state', t.state,
    'spec', case
      when t.state in ('updating', 'healthy', 'failed')
        then r.target || jsonb_strip_nulls(jsonb_build_object('digest', r.image_digest))
      else t.previous end)
  from public.fly_rollout_targets t
  join public.fly_rollouts r on r.id = t.rollout_id
  where t.user_id = p_user_id and r.state in ('running', 'paused', 'halted')
  order by r.created_at desc
  limit 1
$$;
comment on function private.fly_rollout_spec_for_user(uuid) is
  'For a user an active rollout covers: {rollout_id, state, direction, target_state, spec} where spec is '
  'what the controller should converge the user to now (the target + pinned digest once the user''s batch '
  'got it, else the previous spec). Null when no active rollout covers the user.';

-- Rollouts own a running machine's image and size (issue 9):
--   * private.get_desired_spec carries `rollout`: what an active rollout says the user should run now
--     (private.fly_rollout_spec_for_user), so a reconcile of a user whose batch has started converges to it,
--     and any other reconcile keeps the image and size the machine runs;
--   * a rollout that completes records its target in the scope's plans (fly_plans.image as image@digest
--     once a digest is pinned, and the size/region fields it sets), so the drift it fixed disappears and
--     new users get it; one that ends rolled back restores the plans it snapshotted at creation.

-- The desired spec of this wave (replaces 20261122000200's): the plan's volume and grace fields
-- (20261130000500), the current tier's grace, and `rollout` at the top level.
create or replace function private.get_desired_spec(p_user_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'user_id', p_user_id,
    'tier', s.tier,
    'desired_state', case when coalesce(p.dedicated_app, false) then 'present' else 'absent' end,
    'desired_generation', a.desired_generation,
    'deprovision_grace_seconds', p.deprovision_grace_seconds,
    'rollout', private.fly_rollout_spec_for_user(p_user_id),
    'plan', case when coalesce(p.dedicated_app, false) then jsonb_build_object(
      'tier', p.tier, 'region', p.region, 'cpu_kind', p.cpu_kind, 'cpus', p.cpus, 'memory_mb', p.memory_mb,
      'image', p.image, 'public_services', p.public_services,
      'monthly_cost_estimate_usd', p.monthly_cost_estimate_usd,
      'volume_size_gb', p.volume_size_gb, 'volume_mount_path', p.volume_mount_path,
      'deprovision_grace_seconds', p.deprovision_grace_seconds) end)
  from (select p_user_id as uid) u
  left join public.user_subscriptions s on s.user_id = u.uid
  left join public.fly_plans p on p.tier = s.tier
  left join public.user_fly_apps a on a.user_id = u.uid
$$;
comment on function private.get_desired_spec(uuid) is
  'What the user should have right now, read from the CURRENT tier (so rapid flips collapse to the last): '
  '{user_id, tier (null: no subscription), desired_state present|absent, desired_generation (of the row, '
  'null: no row), deprovision_grace_seconds (of the current tier''s plan, null: the configured default), '
  'rollout (private.fly_rollout_spec_for_user: what an active rollout says the user runs now, or null), '
  'plan: {tier, region, cpu_kind, cpus, memory_mb, image (override or null), public_services, '
  'monthly_cost_estimate_usd, volume_size_gb, volume_mount_path (both null: no volume), '
  'deprovision_grace_seconds} or null}. The plan''s image and size are what a NEW machine gets; a running '
  'machine keeps its own unless the rollout says otherwise.';

create or replace function private.repair_desired_state_drift(p_limit integer default 100)
returns setof uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user uuid;
  v_tier text;
  v_result record;
begin
  for v_user, v_tier in
    select s.user_id, s.tier
    from public.user_subscriptions s
    join public.fly_plans p on p.tier = s.tier and p.dedicated_app
    left join public.user_fly_apps a on a.user_id = s.user_id
    where a.id is null or a.desired_state = 'absent'
    order by s.user_id
    limit greatest(p_limit, 0)
  loop
    select * into v_result from private._apply_desired_state(v_user, v_tier);
    if v_result.changed then
      perform private.append_user_fly_app_event(v_user, 'drift_detected', 'warning',
        jsonb_build_object('kind', 'paid_user_without_app', 'tier', v_tier,
                           'generation', v_result.desired_generation),
        null, v_result.app_id);
      return next v_user;
    end if;
  end loop;
end
$$;
comment on function private.repair_desired_state_drift(integer) is
  'Drift repair for the sweep: paid users (plan with a dedicated app) whose row is missing or says absent get '
  'desired_state present, a generation bump, due now, and a drift_detected event. Returns their user ids '
  '(at most p_limit). Never marks anything absent: a missing subscription row is not taken as a downgrade.';


-- ---------------------------------------------------------------------------------------------------------
-- Leases (a trigger stamps every way one ends).

-- ---------------------------------------------------------------------------------------------------------
-- Leases.

create or replace function private.claim_user_fly_app(
  p_user_id uuid,
  p_owner text,
  p_lease_seconds integer default 300
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.user_fly_apps;
begin
  if p_owner is null or p_owner = '' then
    raise exception 'claim_user_fly_app: owner is required' using errcode = '22004';
  end if;
  update public.user_fly_apps a
  set lease_owner = p_owner,
      lease_expires_at = now() + make_interval(secs => greatest(p_lease_seconds, 1)),
      updated_at = now()
  where a.user_id = p_user_id
    and (a.lease_expires_at is null or a.lease_expires_at < now() or a.lease_owner is null
         or a.lease_owner = p_owner)
  returning * into v_row;
  if found then
    return jsonb_build_object('status', 'claimed', 'app', to_jsonb(v_row));
  end if;
  select * into v_row from public.user_fly_apps a where a.user_id = p_user_id;
  if not found then
    return jsonb_build_object('status', 'not_found', 'app', null);
  end if;
  return jsonb_build_object('status', 'leased', 'app', to_jsonb(v_row));
end
$$;
comment on function private.claim_user_fly_app(uuid, text, integer) is
  'Leases one user''s row for p_owner (a unique id per reconcile) for p_lease_seconds. Returns '
  '{status: "claimed", app: row} (also when p_owner already holds it: renews), {status: "leased", app: row} '
  'when another owner holds an unexpired lease (app.lease_owner / app.lease_expires_at tell who and until '
  'when), or {status: "not_found", app: null}. Concurrent callers: exactly one gets "claimed".';

-- Leases the given rows for p_owner (the callers select and lock them); returns them as jsonb.
create or replace function private._lease_rows(p_ids uuid[], p_owner text, p_lease_seconds integer)
returns setof jsonb
language plpgsql
security definer
set search_path = ''
as $$
begin
  if p_owner is null or p_owner = '' then
    raise exception 'a lease owner is required' using errcode = '22004';
  end if;
  return query
  update public.user_fly_apps a
  set lease_owner = p_owner,
      lease_expires_at = now() + make_interval(secs => greatest(p_lease_seconds, 1)),
      updated_at = now()
  where a.id = any(p_ids)
  returning to_jsonb(a.*);
end
$$;
comment on function private._lease_rows(uuid[], text, integer) is
  'Internal: sets lease_owner/lease_expires_at on rows the caller selected and locked; returns them as jsonb.';

create or replace function private.claim_due_user_fly_apps(
  p_owner text,
  p_limit integer default 10,
  p_lease_seconds integer default 300
) returns setof jsonb
language plpgsql
security definer
set search_path = ''
as $$
begin
  return query
  select private._lease_rows(array(
    select a.id from public.user_fly_apps a
    where a.next_attempt_at is not null and a.next_attempt_at <= now()
      and (a.lease_expires_at is null or a.lease_expires_at < now() or a.lease_owner is null)
    order by a.next_attempt_at, a.id
    limit greatest(p_limit, 0)
    for update skip locked
  ), p_owner, p_lease_seconds);
end
$$;
comment on function private.claim_due_user_fly_apps(text, integer, integer) is
  'Leases up to p_limit rows that are due (next_attempt_at <= now(): a tier change, a retry whose backoff '
  'has passed, or a row whose previous reconciler''s lease expired before it recorded an outcome), oldest '
  'first, skipping rows locked or leased by others (FOR UPDATE SKIP LOCKED). Returns the leased rows as '
  'jsonb. Concurrent callers never get the same row.';

-- Leases the given rows for a closer look (a detail check): rows nobody else holds.
create or replace function private.claim_user_fly_apps(p_ids uuid[], p_owner text, p_lease_seconds integer)
returns setof jsonb
language plpgsql
security definer
set search_path = ''
as $$
begin
  return query
  select private._lease_rows(array(
    select a.id from public.user_fly_apps a
    where a.id = any(p_ids)
      and (a.lease_expires_at is null or a.lease_expires_at < now() or a.lease_owner is null)
    order by a.id
    for update skip locked
  ), p_owner, p_lease_seconds);
end
$$;
comment on function private.claim_user_fly_apps(uuid[], text, integer) is
  'Leases those of p_ids that no unexpired lease holds (skipping locked rows); returns them as jsonb.';

create or replace function private.renew_user_fly_app_lease(
  p_app_id uuid,
  p_owner text,
  p_lease_seconds integer default 300
) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.user_fly_apps a
  set lease_expires_at = now() + make_interval(secs => greatest(p_lease_seconds, 1))
  where a.id = p_app_id and a.lease_owner = p_owner;
  return found;
end
$$;
comment on function private.renew_user_fly_app_lease(uuid, text, integer) is
  'Extends p_owner''s lease (e.g. during a long machine wait). false: the lease is no longer ours; stop.';

create or replace function private.release_user_fly_app(p_app_id uuid, p_owner text)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.user_fly_apps a
  set lease_owner = null, lease_expires_at = null, updated_at = now()
  where a.id = p_app_id and a.lease_owner = p_owner;
  return found;
end
$$;
comment on function private.release_user_fly_app(uuid, text) is
  'Releases p_owner''s lease without recording an outcome (e.g. nothing to do). Returns false when p_owner '
  'did not hold it. next_attempt_at is untouched: a due row stays due.';

create or replace function private.stamp_lease_release()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  new.lease_released_at := now();
  new.lease_released_by := old.lease_owner;
  return new;
end
$$;
comment on function private.stamp_lease_release() is
  'Trigger: records when and by whom a lease on a user_fly_apps row ended.';

drop trigger if exists user_fly_apps_lease_released on public.user_fly_apps;

create trigger user_fly_apps_lease_released
  before update of lease_owner on public.user_fly_apps
  for each row
  when (old.lease_owner is not null and old.lease_owner is distinct from new.lease_owner)
  execute function private.stamp_lease_release();


-- ---------------------------------------------------------------------------------------------------------
-- Outcomes and observations.

-- One outcome of one attempt, in one transaction: the lease fence, the patch, the generation fence, the
-- events, the lease released (or kept, for a sweep that goes on to repair the row).
create or replace function private.record_outcome(
  p_app_id uuid,
  p_owner text,
  p_generation bigint,
  p_patch jsonb default '{}'::jsonb,
  p_events jsonb default '[]'::jsonb,
  p_release boolean default true
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_before public.user_fly_apps;
  v_row public.user_fly_apps;
begin
  v_before := private._lock_leased(p_app_id, p_owner);
  perform private._apply_patch(p_app_id, p_patch);
  update public.user_fly_apps a set
    -- Observed generations only move forward.
    observed_generation = greatest(a.observed_generation, v_before.observed_generation),
    -- A tier change recorded during the attempt: due now for the newer generation, with a clean slate.
    (status, retry_count, next_attempt_at) = (
      select d.* from private.due_now(a.status) d
      where a.desired_generation > coalesce(p_generation, a.desired_generation)
      union all
      select a.status, a.retry_count, a.next_attempt_at
      where a.desired_generation <= coalesce(p_generation, a.desired_generation)),
    lease_owner = case when p_release then null else a.lease_owner end,
    lease_expires_at = case when p_release then null else a.lease_expires_at end,
    updated_at = now()
  where a.id = p_app_id
  returning * into v_row;
  perform private._append_events(v_row.user_id, v_row.id, p_events);
  return to_jsonb(v_row);
end
$$;
comment on function private.record_outcome(uuid, text, bigint, jsonb, jsonb, boolean) is
  'Records one attempt at desired generation p_generation: raises 55000 (lease_not_held) unless p_owner '
  'holds the lease; applies p_patch (whitelisted columns); keeps observed_generation monotonic; when a newer '
  'generation was recorded meanwhile, makes the row due now with retry_count 0; appends p_events '
  '[{event_type, status?, metadata?, error_details?}]; releases the lease unless p_release is false. '
  'Returns the row.';

-- Observations of rows this caller holds (p_owner) or of rows nobody holds (p_owner null: rows leased by a
-- reconciler are skipped, its outcome is newer). One call per batch.
create or replace function private.record_observations(p_owner text, p_items jsonb)
returns table (id uuid, kept jsonb)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_item jsonb;
  v_id uuid;
  v_row public.user_fly_apps;
  v_release boolean;
begin
  if jsonb_typeof(p_items) <> 'array' then
    raise exception 'items must be a jsonb array' using errcode = '22023';
  end if;
  for v_item in select i from jsonb_array_elements(p_items) i loop
    v_id := (v_item ->> 'id')::uuid;
    select * into v_row from public.user_fly_apps a where a.id = v_id for update;
    continue when not found;
    if p_owner is null then
      continue when v_row.lease_expires_at > now();
    else
      continue when v_row.lease_owner is distinct from p_owner;
    end if;
    perform private._apply_patch(v_id, coalesce(v_item -> 'patch', '{}'::jsonb));
    v_release := p_owner is not null and coalesce((v_item ->> 'release')::boolean, true);
    if v_release then
      update public.user_fly_apps a set lease_owner = null, lease_expires_at = null where a.id = v_id;
    end if;
    perform private._append_events(v_row.user_id, v_id, v_item -> 'events');
    id := v_id;
    kept := case when p_owner is not null and not v_release
                 then (select to_jsonb(a.*) from public.user_fly_apps a where a.id = v_id) end;
    return next;
  end loop;
end
$$;
comment on function private.record_observations(text, jsonb) is
  'Applies observations [{id, patch, events?, release?}] in one transaction. With p_owner: only rows p_owner '
  'leases (released unless release is false). Without: only rows no unexpired lease holds. Returns the id '
  'of each row written, and the row itself when its lease is kept (for a repair that follows).';

-- The sweep's fleet listing: the machine states the org-wide listing saw, written set-based per page.
create or replace function private.record_fleet_states(p_states jsonb)
returns table (
  id uuid, user_id uuid, fly_app_name text, status text, desired_state text, machine_id text,
  health_status text, held_at timestamptz, previous_state text, state text, live_machines integer,
  observed_machine_id text
)
language sql
security definer
set search_path = ''
as $$
  with seen as (
    select s.app_name, s.state, s.machine_id, s.live_machines, s.observed_at
    from jsonb_to_recordset(p_states)
      as s(app_name text, state text, machine_id text, live_machines integer, observed_at timestamptz)
  ), before as (
    select a.id, a.last_machine_state from public.user_fly_apps a join seen on seen.app_name = a.fly_app_name
    for update of a
  ), written as (
    update public.user_fly_apps a set last_machine_state = seen.state, last_observed_at = seen.observed_at
    from seen, before
    where a.fly_app_name = seen.app_name and before.id = a.id
    returning a.id, a.user_id, a.fly_app_name, a.status, a.desired_state, a.machine_id, a.health_status,
              a.held_at, before.last_machine_state as previous_state, seen.state, seen.live_machines,
              seen.machine_id as observed_machine_id
  )
  select * from written
$$;
comment on function private.record_fleet_states(jsonb) is
  'Writes last_machine_state/last_observed_at of the rows whose app appears in p_states '
  '[{app_name, state, machine_id, live_machines, observed_at}] in one statement; returns each written row '
  'with its previous state, for the sweep to decide which apps need a closer look.';

-- Rows the last full fleet listing did not see at all (their app or machine is gone).
create or replace function private.unseen_since(p_since timestamptz, p_limit integer default 1000)
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select a.id from public.user_fly_apps a
  where a.desired_state = 'present' and a.status in ('active', 'held') and a.fly_app_name is not null
    and (a.last_observed_at is null or a.last_observed_at < p_since)
  order by a.id
  limit greatest(p_limit, 0)
$$;
comment on function private.unseen_since(timestamptz, integer) is
  'Ids of active or held rows no fleet listing has seen since p_since (a full listing''s start): their '
  'machine or app vanished.';


-- ---------------------------------------------------------------------------------------------------------
-- Fly rate-limit buckets shared by every function instance (the table is in the schema file).

create or replace function private.take_rate_tokens(
  p_bucket text,
  p_rate_per_s double precision,
  p_burst integer,
  p_tokens integer default 1
) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_tokens double precision;
begin
  if p_bucket is null or p_bucket = '' then
    raise exception 'take_rate_tokens: p_bucket is required' using errcode = '22023';
  end if;
  if p_rate_per_s is null or not p_rate_per_s > 0 or p_rate_per_s = 'Infinity' then
    raise exception 'take_rate_tokens: p_rate_per_s must be a positive number' using errcode = '22023';
  end if;
  if p_burst is null or p_burst < 1 then
    raise exception 'take_rate_tokens: p_burst must be at least 1' using errcode = '22023';
  end if;
  if p_tokens is null or p_tokens < 1 then
    raise exception 'take_rate_tokens: p_tokens must be at least 1' using errcode = '22023';
  end if;
  -- One statement: a new bucket starts full; an existing one is refilled for the time since its last take
  -- (capped at the burst) on the row it holds locked, so concurrent takers queue on the row and each sees
  -- the balance the previous one left. The clock is read after the lock is granted (in the sub-select), and
  -- once, so the refill and the timestamp agree.
  insert into private.fly_rate_buckets as b (bucket, tokens, refilled_at)
  values (p_bucket, p_burst - p_tokens, clock_timestamp())
  on conflict (bucket) do update
  set (tokens, refilled_at) = (
    select least(
             p_burst::double precision,
             b.tokens + greatest(extract(epoch from now_.at - b.refilled_at)::double precision, 0) * p_rate_per_s
           ) - p_tokens,
           greatest(now_.at, b.refilled_at)
    from (select clock_timestamp() as at) as now_
  )
  returning b.tokens into v_tokens;
  -- A negative balance is tokens reserved ahead: this caller's are available once it has been paid back.
  return ceil(greatest(-v_tokens, 0) / p_rate_per_s * 1000)::integer;
end
$$;
comment on function private.take_rate_tokens(text, double precision, integer, integer) is
  'Takes p_tokens from the shared token bucket p_bucket (refilled at p_rate_per_s up to p_burst; a new bucket '
  'is full) and returns the milliseconds the caller must wait before using them (0: at once). The tokens are '
  'reserved either way, so callers that each wait the returned time never exceed rate * t + burst in any '
  'window t, across connections. Atomic (one statement, the bucket row locked).';


-- ---------------------------------------------------------------------------------------------------------
-- Reading status (users through RLS, the admin UI and ops).

-- The status API of this wave (replaces 20261122000200's public.get_user_fly_app_status): a paid user without
-- a row yet wants an app and is not in sync; machine state, image, digest, drift and hold (the controller);
-- delete_after (when a suspended app is deleted), the volume id and the credential expiry, never the
-- credential (issue 14).

create or replace function public.get_user_fly_app_status(p_user_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select case when s.user_id is null and a.id is null then null else jsonb_build_object(
    'user_id', p_user_id,
    'tier', s.tier,
    'desired_state', coalesce(a.desired_state,
                              case when coalesce(p.dedicated_app, false) then 'present' else 'absent' end),
    'status', coalesce(a.status, 'none'),
    'in_sync', coalesce(a.in_sync, not coalesce(p.dedicated_app, false)),
    'health_status', a.health_status,
    'fly_app_name', a.fly_app_name,
    'region', a.region,
    'machine_id', a.machine_id,
    'machine_state', a.last_machine_state,
    'image', a.docker_image,
    'image_digest', a.image_digest,
    'drift', coalesce(a.drift, '{}'::jsonb),
    'cpu_kind', a.cpu_kind,
    'cpu_count', a.cpu_count,
    'memory_mb', a.memory_mb,
    'held', a.held_at is not null,
    'held_at', a.held_at,
    'delete_after', a.delete_after,
    'volume_id', a.volume_id,
    'credential_expires_at', a.credential_expires_at,
    'error_message', a.error_message,
    'retry_count', a.retry_count,
    'next_attempt_at', a.next_attempt_at,
    'deployed_at', a.deployed_at,
    'deleted_at', a.deleted_at,
    'last_health_check_at', a.last_health_check_at,
    'last_observed_at', a.last_observed_at,
    'updated_at', a.updated_at,
    'recent_events', coalesce((
      select jsonb_agg(jsonb_build_object('event_type', e.event_type, 'status', e.status,
                                          'created_at', e.created_at) order by e.seq desc)
      from (select * from public.user_fly_app_events e2 where e2.user_id = p_user_id
            order by e2.seq desc limit 10) e), '[]'::jsonb)
  ) end
  from (select p_user_id as uid) u
  left join public.user_subscriptions s on s.user_id = u.uid
  left join public.fly_plans p on p.tier = s.tier
  left join public.user_fly_apps a on a.user_id = u.uid
$$;
comment on function public.get_user_fly_app_status(uuid) is
  'Status of a user''s dedicated Fly app for the user (RLS: only their own) and ops: tier, desired_state '
  '(from the row, else from the tier: a paid user without a row wants an app), status, in_sync, health, '
  'machine state, image and digest, drift, size, hold, delete_after (end of a downgrade''s grace period), '
  'volume_id, credential_expires_at, error, timestamps and the last 10 events; null when '
  'nothing is visible. SECURITY INVOKER: what the caller may read is decided by RLS.';


-- ---------------------------------------------------------------------------------------------------------
-- Privileges: the private API is for the database owner (the engine's SUPABASE_DB_URL) only.

revoke all on all functions in schema private from public, anon, authenticated, service_role;
revoke all on function public.get_user_fly_app_status(uuid) from public, anon;
grant execute on function public.get_user_fly_app_status(uuid) to authenticated, service_role;
