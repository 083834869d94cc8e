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
    next_attempt_at = case when a.desired_generation > coalesce(p_generation, a.desired_generation)
                           then now() else a.next_attempt_at end,
    retry_count = case when a.desired_generation > coalesce(p_generation, a.desired_generation)
                       then 0 else a.retry_count end,
    status = case when a.desired_generation > coalesce(p_generation, a.desired_generation)
                       and a.status in ('error', 'failed') then 'pending' else a.status end,
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

-- Tier 1 of the sweep: the machine states the org-wide listing saw, written set-based per page.
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

-- Leases the given rows for a closer look (tier 2): rows nobody else holds.
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

-- The old outcome functions decided backoff and alerts in SQL; the controller decides them now.
drop function if exists private.record_reconcile_success(uuid, text, bigint, jsonb, jsonb);
drop function if exists private.record_reconcile_failure(uuid, text, bigint, text, boolean, jsonb, jsonb,
  double precision, double precision, integer);
drop function if exists private.record_health_check(uuid, text, text, jsonb, boolean);
-- The sweep picks rows for a detail check itself (tier 1 flags, then urgency and staleness).
drop function if exists private.claim_stale_user_fly_apps(text, integer, integer, integer, timestamptz);

-- The status function of this wave (a paid user without a row wants an app and is not in sync; machine
-- state, image, digest, drift, hold, grace) is replaced once, in 20261130000510_grace_status.sql.

revoke all on all functions in schema private from public, anon, authenticated, service_role;
