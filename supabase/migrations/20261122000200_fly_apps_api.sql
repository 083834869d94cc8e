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

-- Applies a whitelisted patch of observed fields to one row. Keys not listed raise 22023 (typos fail loudly);
-- a key with JSON null sets the column to null.
create or replace function private._apply_patch(p_app_id uuid, p_patch jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_unknown text;
begin
  if p_patch is null or p_patch = '{}'::jsonb then
    return;
  end if;
  if jsonb_typeof(p_patch) <> 'object' then
    raise exception 'patch must be a jsonb object' using errcode = '22023';
  end if;
  select string_agg(k, ', ') into v_unknown
  from jsonb_object_keys(p_patch) k
  where k not in ('status', 'fly_app_name', 'fly_org_slug', 'region', 'docker_image', 'cpu_kind', 'cpu_count',
                  'memory_mb', 'machine_id', 'image_digest', 'secrets_version', 'secrets_digest', 'deployed_at',
                  'deleted_at', 'health_status', 'last_health_check_at', 'monthly_cost_estimate_usd');
  if v_unknown is not null then
    raise exception 'patch has unknown or read-only keys: %', v_unknown using errcode = '22023';
  end if;
  update public.user_fly_apps a set
    status = case when p_patch ? 'status' then p_patch ->> 'status' else a.status end,
    fly_app_name = case when p_patch ? 'fly_app_name' then p_patch ->> 'fly_app_name' else a.fly_app_name end,
    fly_org_slug = case when p_patch ? 'fly_org_slug' then p_patch ->> 'fly_org_slug' else a.fly_org_slug end,
    region = case when p_patch ? 'region' then p_patch ->> 'region' else a.region end,
    docker_image = case when p_patch ? 'docker_image' then p_patch ->> 'docker_image' else a.docker_image end,
    cpu_kind = case when p_patch ? 'cpu_kind' then p_patch ->> 'cpu_kind' else a.cpu_kind end,
    cpu_count = case when p_patch ? 'cpu_count' then (p_patch ->> 'cpu_count')::integer else a.cpu_count end,
    memory_mb = case when p_patch ? 'memory_mb' then (p_patch ->> 'memory_mb')::integer else a.memory_mb end,
    machine_id = case when p_patch ? 'machine_id' then p_patch ->> 'machine_id' else a.machine_id end,
    image_digest = case when p_patch ? 'image_digest' then p_patch ->> 'image_digest' else a.image_digest end,
    secrets_version = case when p_patch ? 'secrets_version'
      then (p_patch ->> 'secrets_version')::bigint else a.secrets_version end,
    secrets_digest = case when p_patch ? 'secrets_digest' then p_patch ->> 'secrets_digest' else a.secrets_digest end,
    deployed_at = case when p_patch ? 'deployed_at'
      then (p_patch ->> 'deployed_at')::timestamptz else a.deployed_at end,
    deleted_at = case when p_patch ? 'deleted_at'
      then (p_patch ->> 'deleted_at')::timestamptz else a.deleted_at end,
    health_status = case when p_patch ? 'health_status'
      then coalesce(p_patch ->> 'health_status', 'unknown') else a.health_status end,
    last_health_check_at = case when p_patch ? 'last_health_check_at'
      then (p_patch ->> 'last_health_check_at')::timestamptz else a.last_health_check_at end,
    monthly_cost_estimate_usd = case when p_patch ? 'monthly_cost_estimate_usd'
      then (p_patch ->> 'monthly_cost_estimate_usd')::numeric else a.monthly_cost_estimate_usd end
  where a.id = p_app_id;
end
$$;
comment on function private._apply_patch(uuid, jsonb) is
  'Internal: sets whitelisted observed columns of one row from a jsonb object (unknown keys raise 22023).';

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
-- Desired state.

-- The single place that turns a tier into desired state and records it (used by the trigger and by drift
-- repair). Present: upsert the row (one per user, reactivating a deleted one), bump desired_generation, due
-- now. Absent: only an existing row that wanted an app changes. Returns whether anything changed.
create or replace function private._apply_desired_state(p_user_id uuid, p_tier text)
returns table (changed boolean, app_id uuid, desired_state text, desired_generation bigint)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_present boolean;
begin
  select coalesce(bool_or(p.dedicated_app), false) into v_present from public.fly_plans p where p.tier = p_tier;
  if v_present then
    return query
    insert into public.user_fly_apps as a (user_id, desired_state, desired_generation, status, next_attempt_at)
    values (p_user_id, 'present', 1, 'pending', now())
    on conflict (user_id) do update set
      desired_state = 'present',
      desired_generation = a.desired_generation + 1,
      next_attempt_at = now(),
      retry_count = 0,
      error_message = null,
      status = case when a.status in ('deleted', 'error', 'failed') then 'pending' else a.status end,
      deleted_at = null,
      updated_at = now()
    returning true, a.id, a.desired_state, a.desired_generation;
  else
    return query
    update public.user_fly_apps a set
      desired_state = 'absent',
      desired_generation = a.desired_generation + 1,
      next_attempt_at = now(),
      retry_count = 0,
      error_message = null,
      status = case when a.status in ('error', 'failed') then 'pending' else a.status end,
      updated_at = now()
    where a.user_id = p_user_id and a.desired_state = 'present'
    returning true, a.id, a.desired_state, a.desired_generation;
    if not found then
      return query select false, null::uuid, 'absent'::text, null::bigint;
    end if;
  end if;
end
$$;
comment on function private._apply_desired_state(uuid, text) is
  'Internal: records the desired state for a tier (upsert + desired_generation bump + due now); '
  'changed=false when nothing needed recording (absent and no row wanting an app).';

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
    'plan', case when coalesce(p.dedicated_app, false) then jsonb_build_object(
      'tier', p.tier, 'region', p.region, 'cpu_kind', p.cpu_kind, 'cpus', p.cpus, 'memory_mb', p.memory_mb,
      'image', p.image, 'public_services', p.public_services,
      'monthly_cost_estimate_usd', p.monthly_cost_estimate_usd) end)
  from (select p_user_id as uid) u
  left join public.user_subscriptions s on s.user_id = u.uid
  left join public.fly_plans p on p.tier = s.tier
  left join public.user_fly_apps a on a.user_id = u.uid
$$;
comment on function private.get_desired_spec(uuid) is
  'What the user should have right now, read from the CURRENT tier (so rapid flips collapse to the last): '
  '{user_id, tier (null: no subscription), desired_state present|absent, desired_generation (of the row, '
  'null: no row), plan: {tier, region, cpu_kind, cpus, memory_mb, image (override or null), public_services, '
  'monthly_cost_estimate_usd} or null}. Reconcile reads this after claiming the row and passes the '
  'desired_generation it saw to record_reconcile_success/failure.';

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

create or replace function private.claim_stale_user_fly_apps(
  p_owner text,
  p_limit integer default 20,
  p_lease_seconds integer default 120,
  p_min_age_seconds integer default 60,
  p_checked_before timestamptz default null
) returns setof jsonb
language plpgsql
security definer
set search_path = ''
as $$
begin
  return query
  select private._lease_rows(array(
    select a.id from public.user_fly_apps a
    where a.status = 'active' and a.desired_state = 'present'
      and (a.last_health_check_at is null
           or (a.last_health_check_at < now() - make_interval(secs => greatest(p_min_age_seconds, 0))
               and (p_checked_before is null or a.last_health_check_at < p_checked_before)))
      and (a.lease_expires_at is null or a.lease_expires_at < now() or a.lease_owner is null)
    order by a.last_health_check_at nulls first, a.id
    limit greatest(p_limit, 0)
    for update skip locked
  ), p_owner, p_lease_seconds);
end
$$;
comment on function private.claim_stale_user_fly_apps(text, integer, integer, integer, timestamptz) is
  'Leases up to p_limit active rows (desired present) whose last health check is older than '
  'p_min_age_seconds and, when given, checked before p_checked_before (a sweep passes its start time so it '
  'observes each app once), never checked first, skipping locked/leased rows. For the health sweep; finish each '
  'with record_health_check (or record_reconcile_* after a repair).';

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

-- ---------------------------------------------------------------------------------------------------------
-- Outcomes.

create or replace function private.record_reconcile_success(
  p_app_id uuid,
  p_owner text,
  p_generation bigint,
  p_patch jsonb default '{}'::jsonb,
  p_events jsonb default '[]'::jsonb
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.user_fly_apps;
begin
  v_row := private._lock_leased(p_app_id, p_owner);
  perform private._apply_patch(p_app_id, p_patch);
  update public.user_fly_apps a set
    observed_generation = greatest(a.observed_generation, coalesce(p_generation, 0)),
    retry_count = 0,
    error_message = null,
    deleted_at = case when a.status = 'deleted' and a.deleted_at is null then now() else a.deleted_at end,
    next_attempt_at = case when a.desired_generation > coalesce(p_generation, 0) then now() end,
    lease_owner = null,
    lease_expires_at = null,
    updated_at = now()
  where a.id = p_app_id
  returning * into v_row;
  perform private._append_events(v_row.user_id, v_row.id, p_events);
  return to_jsonb(v_row);
end
$$;
comment on function private.record_reconcile_success(uuid, text, bigint, jsonb, jsonb) is
  'Records that Fly now matches desired generation p_generation: applies p_patch (whitelisted observed '
  'columns: status, fly_app_name, fly_org_slug, region, docker_image, cpu_kind, cpu_count, memory_mb, '
  'machine_id, image_digest, secrets_version, secrets_digest, deployed_at, deleted_at, health_status, '
  'last_health_check_at, '
  'monthly_cost_estimate_usd; JSON null clears), sets observed_generation, resets retry_count and '
  'error_message, clears next_attempt_at (or keeps the row due when a newer tier change arrived meanwhile), '
  'releases the lease and appends p_events [{event_type, status?, metadata?, error_details?}], all in one '
  'transaction. Raises SQLSTATE 55000 (lease_not_held) when p_owner no longer holds the lease.';

create or replace function private.record_reconcile_failure(
  p_app_id uuid,
  p_owner text,
  p_generation bigint,
  p_error text,
  p_retryable boolean,
  p_patch jsonb default '{}'::jsonb,
  p_events jsonb default '[]'::jsonb,
  p_base_delay_seconds double precision default 30,
  p_max_delay_seconds double precision default 3600,
  p_alert_after integer default 3
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.user_fly_apps;
  v_stale boolean;
  v_retry integer;
  v_delay double precision;
  v_alert boolean := false;
begin
  v_row := private._lock_leased(p_app_id, p_owner);
  perform private._apply_patch(p_app_id, p_patch);
  -- A tier change that arrived during the attempt makes this failure moot for the new intent: due now.
  v_stale := v_row.desired_generation > coalesce(p_generation, 0);
  if v_stale then
    v_retry := 0;
    v_delay := 0;
  elsif p_retryable then
    v_retry := v_row.retry_count + 1;
    -- Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(attempt-1))).
    v_delay := random() * least(p_max_delay_seconds,
                                p_base_delay_seconds * power(2::double precision, least(v_row.retry_count, 30)));
    v_alert := v_retry = p_alert_after;
  else
    v_retry := v_row.retry_count + 1;
    v_alert := true;
  end if;

  update public.user_fly_apps a set
    status = case when v_stale then 'pending' when p_retryable then 'failed' else 'error' end,
    error_message = left(p_error, 2000),
    retry_count = v_retry,
    next_attempt_at = case
      when v_stale then now()
      when p_retryable then now() + make_interval(secs => v_delay)
    end,
    lease_owner = null,
    lease_expires_at = null,
    updated_at = now()
  where a.id = p_app_id
  returning * into v_row;

  perform private._append_events(v_row.user_id, v_row.id, p_events);
  if v_alert then
    perform private.append_user_fly_app_event(v_row.user_id, 'alert_raised', 'error',
      jsonb_build_object('reason', case when p_retryable then 'consecutive_failures' else 'permanent_failure' end,
                         'retry_count', v_retry, 'generation', p_generation, 'desired_state', v_row.desired_state),
      left(p_error, 2000), v_row.id);
  end if;
  return jsonb_build_object('app', to_jsonb(v_row), 'alert_raised', v_alert, 'stale', v_stale,
                            'retry_in_seconds', case when p_retryable and not v_stale then v_delay end);
end
$$;
comment on function private.record_reconcile_failure(uuid, text, bigint, text, boolean, jsonb, jsonb,
  double precision, double precision, integer) is
  'Records a failed attempt at generation p_generation, in one transaction: applies p_patch (as in '
  'record_reconcile_success), appends p_events, releases the lease. Retryable: status failed, '
  'retry_count + 1, next_attempt_at = now() + uniform(0, min(max, base * 2^(retry_count))) seconds '
  '(exponential backoff, full jitter); alert_raised event when retry_count reaches p_alert_after. '
  'Permanent (p_retryable false): status error, next_attempt_at null (only a new tier change or ops re-drive '
  'it), alert_raised event at once. If a newer tier change arrived meanwhile (desired_generation > '
  'p_generation) the row is instead pending and due now. Returns {app, alert_raised, stale, '
  'retry_in_seconds}; POST the alert webhook when alert_raised. p_error must hold no secret. Raises 55000 '
  '(lease_not_held) when p_owner no longer holds the lease.';

create or replace function private.record_health_check(
  p_app_id uuid,
  p_owner text,
  p_health_status text,
  p_details jsonb default '{}'::jsonb,
  p_release boolean default true
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_old public.user_fly_apps;
  v_row public.user_fly_apps;
  v_changed boolean;
begin
  v_old := private._lock_leased(p_app_id, p_owner);
  update public.user_fly_apps a set
    health_status = coalesce(p_health_status, 'unknown'),
    last_health_check_at = now(),
    lease_owner = case when p_release then null else a.lease_owner end,
    lease_expires_at = case when p_release then null else a.lease_expires_at end,
    updated_at = now()
  where a.id = p_app_id
  returning * into v_row;
  v_changed := v_old.health_status is distinct from v_row.health_status;
  if v_changed then
    perform private.append_user_fly_app_event(v_row.user_id, 'health_changed',
      case when v_row.health_status = 'healthy' then 'ok' else 'warning' end,
      jsonb_build_object('from', v_old.health_status, 'to', v_row.health_status,
                         'details', coalesce(p_details, '{}'::jsonb)),
      null, v_row.id);
  end if;
  return jsonb_build_object('app', to_jsonb(v_row), 'changed', v_changed);
end
$$;
comment on function private.record_health_check(uuid, text, text, jsonb, boolean) is
  'Records an observation: health_status (healthy | unhealthy | unknown | ...), last_health_check_at = now(); '
  'appends a health_changed event only when the status changed; releases the lease unless p_release is '
  'false. Returns {app, changed}. Raises 55000 (lease_not_held) when p_owner does not hold the lease.';

-- ---------------------------------------------------------------------------------------------------------
-- Reading status (users through RLS, the admin UI and ops).
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
    'desired_state', coalesce(a.desired_state, 'absent'),
    'status', coalesce(a.status, 'none'),
    'in_sync', coalesce(a.observed_generation >= a.desired_generation, true),
    'health_status', a.health_status,
    'fly_app_name', a.fly_app_name,
    'region', a.region,
    'machine_id', a.machine_id,
    'cpu_kind', a.cpu_kind,
    'cpu_count', a.cpu_count,
    'memory_mb', a.memory_mb,
    'error_message', a.error_message,
    'retry_count', a.retry_count,
    'next_attempt_at', a.next_attempt_at,
    'deployed_at', a.deployed_at,
    'deleted_at', a.deleted_at,
    'last_health_check_at', a.last_health_check_at,
    'updated_at', a.updated_at,
    'recent_events', coalesce((
      select jsonb_agg(jsonb_build_object('event_type', e.event_type, 'status', e.status,
                                          'created_at', e.created_at) order by e.seq desc)
      from (select * from public.user_fly_app_events e2 where e2.user_id = p_user_id
            order by e2.seq desc limit 10) e), '[]'::jsonb)
  ) end
  from (select p_user_id as uid) u
  left join public.user_subscriptions s on s.user_id = u.uid
  left join public.user_fly_apps a on a.user_id = u.uid
$$;
comment on function public.get_user_fly_app_status(uuid) is
  'Status of a user''s dedicated Fly app for the user (RLS: only their own) and the admin UI / service side: '
  'tier, desired_state, status, in_sync, health, app name, region, size, error, timestamps and the last 10 '
  'events; null when nothing is visible. SECURITY INVOKER: what the caller may read is decided by RLS.';

-- ---------------------------------------------------------------------------------------------------------
-- Privileges: the private API is for the database owner (the engine's SUPABASE_DB_URL) only.
revoke all on all functions in schema private from public, anon, authenticated, service_role;
revoke all on function public.get_user_fly_app_status(uuid) from public, anon;
grant execute on function public.get_user_fly_app_status(uuid) to authenticated, service_role;
