--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: private; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA private;

ALTER SCHEMA private OWNER TO postgres;

--
-- Name: SCHEMA private; Type: COMMENT; Schema: -; Owner: postgres
--

COMMENT ON SCHEMA private IS 'Internal API of the Fly app provisioner (claims, outcomes, kicks). Not exposed through the Data API.';

--
-- Name: _append_events(uuid, uuid, jsonb); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private._append_events(p_user_id uuid, p_fly_app_id uuid, p_events jsonb) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION private._append_events(p_user_id uuid, p_fly_app_id uuid, p_events jsonb) OWNER TO postgres;

--
-- Name: FUNCTION _append_events(p_user_id uuid, p_fly_app_id uuid, p_events jsonb); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private._append_events(p_user_id uuid, p_fly_app_id uuid, p_events jsonb) IS 'Internal: appends [{event_type, status?, metadata?, error_details?}] for one app; returns the count.';

--
-- Name: _append_fly_rollout_event(uuid, text, text, text, text, text, jsonb); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private._append_fly_rollout_event(p_rollout_id uuid, p_event_type text, p_actor text, p_from text, p_to text, p_reason text, p_metadata jsonb DEFAULT '{}'::jsonb) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  insert into public.fly_rollout_events (rollout_id, event_type, actor, from_state, to_state, reason, metadata)
  values (p_rollout_id, p_event_type, p_actor, p_from, p_to, p_reason, coalesce(p_metadata, '{}'::jsonb))
$$;

ALTER FUNCTION private._append_fly_rollout_event(p_rollout_id uuid, p_event_type text, p_actor text, p_from text, p_to text, p_reason text, p_metadata jsonb) OWNER TO postgres;

--
-- Name: _apply_desired_state(uuid, text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private._apply_desired_state(p_user_id uuid, p_tier text) RETURNS TABLE(changed boolean, app_id uuid, desired_state text, desired_generation bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION private._apply_desired_state(p_user_id uuid, p_tier text) OWNER TO postgres;

--
-- Name: FUNCTION _apply_desired_state(p_user_id uuid, p_tier text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private._apply_desired_state(p_user_id uuid, p_tier text) IS 'Internal: records the desired state for a tier (private.tier_has_app): upsert + desired_generation bump + due now, and desired_tier; changed=false when nothing needed recording (absent and no row wanting an app).';

--
-- Name: _apply_patch(uuid, jsonb); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private._apply_patch(p_app_id uuid, p_patch jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
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
$_$;

ALTER FUNCTION private._apply_patch(p_app_id uuid, p_patch jsonb) OWNER TO postgres;

--
-- Name: FUNCTION _apply_patch(p_app_id uuid, p_patch jsonb); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private._apply_patch(p_app_id uuid, p_patch jsonb) IS 'Internal: sets the whitelisted columns (private.user_fly_app_patch_columns) of one row from a jsonb object; unknown keys raise 22023.';

--
-- Name: _check_fly_rollout_target(jsonb); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private._check_fly_rollout_target(p_target jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
  v_unknown text;
  v_value jsonb;
begin
  if p_target is null or jsonb_typeof(p_target) <> 'object' or p_target = '{}'::jsonb then
    perform private._fail_input('target: must name an image and/or plan fields to change');
  end if;
  select string_agg(k, ', ') into v_unknown from jsonb_object_keys(p_target) k
  where k not in ('image', 'region', 'cpu_kind', 'cpus', 'memory_mb', 'env', 'checks');
  if v_unknown is not null then
    perform private._fail_input(format('target: unknown field(s) %s', v_unknown));
  end if;
  v_value := p_target -> 'image';
  if v_value is not null and (jsonb_typeof(v_value) <> 'string' or (v_value #>> '{}') !~ '^\S+$'
                              or length(v_value #>> '{}') > 512) then
    perform private._fail_input('target.image: must be an image reference (no spaces)');
  end if;
  v_value := p_target -> 'region';
  if v_value is not null and (jsonb_typeof(v_value) <> 'string' or (v_value #>> '{}') !~ '^[a-z]{3}$') then
    perform private._fail_input('target.region: must be a three-letter region code');
  end if;
  v_value := p_target -> 'cpu_kind';
  if v_value is not null and (jsonb_typeof(v_value) <> 'string'
                              or (v_value #>> '{}') not in ('shared', 'performance')) then
    perform private._fail_input('target.cpu_kind: must be shared or performance');
  end if;
  v_value := p_target -> 'cpus';
  if v_value is not null and (jsonb_typeof(v_value) <> 'number' or (v_value #>> '{}') !~ '^[1-9][0-9]{0,2}$') then
    perform private._fail_input('target.cpus: must be a positive integer');
  end if;
  v_value := p_target -> 'memory_mb';
  if v_value is not null and (jsonb_typeof(v_value) <> 'number' or (v_value #>> '{}') !~ '^[0-9]{3,6}$'
                              or (v_value #>> '{}')::integer < 256) then
    perform private._fail_input('target.memory_mb: must be an integer of at least 256');
  end if;
  v_value := p_target -> 'env';
  if v_value is not null and (jsonb_typeof(v_value) <> 'object'
      or exists (select 1 from jsonb_each(v_value) e where jsonb_typeof(e.value) <> 'string')) then
    perform private._fail_input('target.env: must be an object of strings');
  end if;
  v_value := p_target -> 'checks';
  if v_value is not null and jsonb_typeof(v_value) <> 'object' then
    perform private._fail_input('target.checks: must be an object');
  end if;
end
$_$;

ALTER FUNCTION private._check_fly_rollout_target(p_target jsonb) OWNER TO postgres;

--
-- Name: _count_fly_rollout(uuid); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private._count_fly_rollout(p_rollout_id uuid) RETURNS public.fly_rollouts
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  update public.fly_rollouts r set
    total = c.total, updated = c.updated, healthy = c.healthy, failed = c.failed, skipped = c.skipped,
    rolled_back = c.rolled_back, rollback_failed = c.rollback_failed, canaries_failed = c.canaries_failed,
    canaries_open = c.canaries_open,
    updated_at = now()
  from (
    select count(*)::integer as total,
           count(*) filter (where t.state in ('healthy', 'failed'))::integer as updated,
           count(*) filter (where t.state = 'healthy')::integer as healthy,
           count(*) filter (where t.state = 'failed')::integer as failed,
           count(*) filter (where t.state = 'skipped')::integer as skipped,
           count(*) filter (where t.state = 'rolled_back')::integer as rolled_back,
           count(*) filter (where t.state = 'rollback_failed')::integer as rollback_failed,
           count(*) filter (where t.batch = 0 and t.state = 'failed')::integer as canaries_failed,
           count(*) filter (where t.batch = 0 and t.state in ('pending', 'updating'))::integer as canaries_open
    from public.fly_rollout_targets t where t.rollout_id = p_rollout_id
  ) c
  where r.id = p_rollout_id
  returning r.*
$$;

ALTER FUNCTION private._count_fly_rollout(p_rollout_id uuid) OWNER TO postgres;

--
-- Name: _fail_input(text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private._fail_input(p_message text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  raise exception '%', p_message using errcode = '22023';
end
$$;

ALTER FUNCTION private._fail_input(p_message text) OWNER TO postgres;

--
-- Name: _fly_rollout_json(public.fly_rollouts); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private._fly_rollout_json(p_rollout public.fly_rollouts) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select to_jsonb(p_rollout) - 'lease_owner' - 'lease_expires_at'
$$;

ALTER FUNCTION private._fly_rollout_json(p_rollout public.fly_rollouts) OWNER TO postgres;

--
-- Name: _lease_rows(uuid[], text, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private._lease_rows(p_ids uuid[], p_owner text, p_lease_seconds integer) RETURNS SETOF jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION private._lease_rows(p_ids uuid[], p_owner text, p_lease_seconds integer) OWNER TO postgres;

--
-- Name: FUNCTION _lease_rows(p_ids uuid[], p_owner text, p_lease_seconds integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private._lease_rows(p_ids uuid[], p_owner text, p_lease_seconds integer) IS 'Internal: sets lease_owner/lease_expires_at on rows the caller selected and locked; returns them as jsonb.';

--
-- Name: _lock_fly_rollout(uuid, text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private._lock_fly_rollout(p_rollout_id uuid, p_owner text) RETURNS public.fly_rollouts
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_row public.fly_rollouts;
begin
  select * into v_row from public.fly_rollouts r where r.id = p_rollout_id for update;
  if not found then
    raise exception 'rollout % does not exist', p_rollout_id using errcode = 'P0002';
  end if;
  if p_owner is not null and v_row.lease_owner is distinct from p_owner then
    raise exception 'lease_not_held: rollout % is driven by %, not by %',
      p_rollout_id, coalesce(v_row.lease_owner, 'nobody'), p_owner
      using errcode = '55000', hint = 'Another driver took the rollout over; stop.';
  end if;
  return v_row;
end
$$;

ALTER FUNCTION private._lock_fly_rollout(p_rollout_id uuid, p_owner text) OWNER TO postgres;

--
-- Name: _lock_leased(uuid, text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private._lock_leased(p_app_id uuid, p_owner text) RETURNS public.user_fly_apps
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION private._lock_leased(p_app_id uuid, p_owner text) OWNER TO postgres;

--
-- Name: FUNCTION _lock_leased(p_app_id uuid, p_owner text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private._lock_leased(p_app_id uuid, p_owner text) IS 'Internal: locks the row and raises SQLSTATE 55000 (lease_not_held) unless p_owner holds its lease.';

--
-- Name: _queue_function_post(text, text, text, jsonb, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private._queue_function_post(p_base_url text, p_secret text, p_function text, p_body jsonb, p_timeout_milliseconds integer) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_request_id bigint;
  v_problem text;
begin
  begin
    v_request_id := net.http_post(
      url := p_base_url || '/functions/v1/' || p_function,
      body := coalesce(p_body, '{}'::jsonb),
      params := '{}'::jsonb,
      headers := jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || p_secret),
      timeout_milliseconds := p_timeout_milliseconds
    );
  exception when others then
    -- An error message could echo what it was given: never let it carry the secret.
    v_problem := replace('pg_net error ' || sqlstate || ': ' || sqlerrm, p_secret, '[redacted]');
    return jsonb_build_object('function', p_function, 'request_id', null, 'problem', left(v_problem, 500));
  end;
  return jsonb_build_object('function', p_function, 'request_id', v_request_id);
end
$$;

ALTER FUNCTION private._queue_function_post(p_base_url text, p_secret text, p_function text, p_body jsonb, p_timeout_milliseconds integer) OWNER TO postgres;

--
-- Name: _request_int(jsonb, text, integer, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private._request_int(p_request jsonb, p_field text, p_default integer, p_min integer) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
  v_value jsonb := p_request -> p_field;
begin
  if v_value is null or v_value = 'null'::jsonb then
    return p_default;
  end if;
  if jsonb_typeof(v_value) <> 'number' or (v_value #>> '{}') !~ '^-?[0-9]{1,9}$'
     or (v_value #>> '{}')::integer < p_min then
    perform private._fail_input(format('%s: must be an integer of at least %s', p_field, p_min));
  end if;
  return (v_value #>> '{}')::integer;
end
$_$;

ALTER FUNCTION private._request_int(p_request jsonb, p_field text, p_default integer, p_min integer) OWNER TO postgres;

--
-- Name: adopt_late_fly_rollout_targets(uuid, text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.adopt_late_fly_rollout_targets(p_rollout_id uuid, p_owner text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_row public.fly_rollouts;
  v_batch integer;
  v_adopted integer;
begin
  v_row := private._lock_fly_rollout(p_rollout_id, p_owner);
  if v_row.state <> 'running' or v_row.direction <> 'forward' then
    return 0;
  end if;
  select coalesce(max(t.batch), 0) + 1 into v_batch from public.fly_rollout_targets t
  where t.rollout_id = p_rollout_id;
  with late as (
    select a.user_id, a.docker_image, a.image_digest, a.region, a.cpu_kind, a.cpu_count, a.memory_mb
    from public.user_fly_apps a
    join public.user_subscriptions s on s.user_id = a.user_id
    join public.fly_plans p on p.tier = s.tier and p.dedicated_app
    left join public.fly_rollout_targets t on t.rollout_id = p_rollout_id and t.user_id = a.user_id
    where a.desired_state = 'present' and a.machine_id is not null
      and (v_row.tier is null or s.tier = v_row.tier)
      and (t.user_id is null or (t.state = 'skipped' and t.skip_reason = 'not_provisioned'))
  )
  insert into public.fly_rollout_targets as t (rollout_id, user_id, batch, stage, previous, bucket)
  select p_rollout_id, l.user_id, v_batch, 'late', jsonb_strip_nulls(jsonb_build_object(
           'image', l.docker_image, 'digest', l.image_digest, 'region', l.region, 'cpu_kind', l.cpu_kind,
           'cpus', l.cpu_count, 'memory_mb', l.memory_mb)), private.fly_rollout_bucket(l.user_id)
  from late l
  on conflict (rollout_id, user_id) do update set
    batch = excluded.batch, stage = excluded.stage, state = 'pending', skip_reason = null,
    previous = excluded.previous, error = null, updated_at = now();
  get diagnostics v_adopted = row_count;
  if v_adopted > 0 then
    perform private._count_fly_rollout(p_rollout_id);
  end if;
  return v_adopted;
end
$$;

ALTER FUNCTION private.adopt_late_fly_rollout_targets(p_rollout_id uuid, p_owner text) OWNER TO postgres;

--
-- Name: FUNCTION adopt_late_fly_rollout_targets(p_rollout_id uuid, p_owner text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.adopt_late_fly_rollout_targets(p_rollout_id uuid, p_owner text) IS 'For the lease holder of a running forward rollout with no open target left: users of its scope whose machine exists but who are no target (their machine was created during the rollout) or were skipped as not provisioned become pending targets of one last batch (stage ''late''). Returns how many.';

--
-- Name: append_user_fly_app_event(uuid, text, text, jsonb, text, uuid); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.append_user_fly_app_event(p_user_id uuid, p_event_type text, p_status text DEFAULT 'info'::text, p_metadata jsonb DEFAULT '{}'::jsonb, p_error_details text DEFAULT NULL::text, p_fly_app_id uuid DEFAULT NULL::uuid) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
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
$_$;

ALTER FUNCTION private.append_user_fly_app_event(p_user_id uuid, p_event_type text, p_status text, p_metadata jsonb, p_error_details text, p_fly_app_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION append_user_fly_app_event(p_user_id uuid, p_event_type text, p_status text, p_metadata jsonb, p_error_details text, p_fly_app_id uuid); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.append_user_fly_app_event(p_user_id uuid, p_event_type text, p_status text, p_metadata jsonb, p_error_details text, p_fly_app_id uuid) IS 'Appends one audit event for a user (fly_app_id looked up from user_id when null) and returns its id. event_type is snake_case (provision_started, provision_completed, provision_failed, deprovision_*, health_changed, repaired, drift_detected, alert_raised, ...); status is info|ok|warning|error. Never pass secret values in metadata or error_details.';

--
-- Name: claim_due_user_fly_apps(text, integer, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.claim_due_user_fly_apps(p_owner text, p_limit integer DEFAULT 10, p_lease_seconds integer DEFAULT 300) RETURNS SETOF jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION private.claim_due_user_fly_apps(p_owner text, p_limit integer, p_lease_seconds integer) OWNER TO postgres;

--
-- Name: FUNCTION claim_due_user_fly_apps(p_owner text, p_limit integer, p_lease_seconds integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.claim_due_user_fly_apps(p_owner text, p_limit integer, p_lease_seconds integer) IS 'Leases up to p_limit rows that are due (next_attempt_at <= now(): a tier change, a retry whose backoff has passed, or a row whose previous reconciler''s lease expired before it recorded an outcome), oldest first, skipping rows locked or leased by others (FOR UPDATE SKIP LOCKED). Returns the leased rows as jsonb. Concurrent callers never get the same row.';

--
-- Name: claim_fly_rollout_targets(uuid, text, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.claim_fly_rollout_targets(p_rollout_id uuid, p_owner text, p_limit integer) RETURNS TABLE(user_id uuid, batch integer, state text, attempts integer, previous jsonb, gate_started_at timestamp with time zone, app jsonb)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
#variable_conflict use_column
declare
  v_row public.fly_rollouts;
  v_open text[];
  v_batch integer;
  v_flight text;
begin
  v_row := private._lock_fly_rollout(p_rollout_id, p_owner);
  if v_row.state <> 'running' or coalesce(p_limit, 0) <= 0 then
    return;
  end if;
  v_open := case v_row.direction when 'forward' then array['pending', 'updating']
            else array['healthy', 'failed', 'updating', 'rolling_back'] end;
  v_flight := case when v_row.direction = 'forward' then 'updating' else 'rolling_back' end;
  select min(t.batch) into v_batch from public.fly_rollout_targets t
  where t.rollout_id = p_rollout_id and t.state = any (v_open);
  if v_batch is null then
    return;
  end if;
  return query
  with picked as (
    select t.user_id from public.fly_rollout_targets t
    where t.rollout_id = p_rollout_id and t.batch = v_batch and t.state = any (v_open)
    -- Targets already in flight (in their gate, or a driver stopped mid-way) first.
    order by (t.state in ('updating', 'rolling_back')) desc, t.user_id
    limit p_limit
    for update
  )
  update public.fly_rollout_targets t set
    state = v_flight,
    -- A new attempt only when the update is not applied yet; a look at a running gate is not one.
    attempts = case when t.state = v_flight and t.gate_started_at is not null then t.attempts
                    else t.attempts + 1 end,
    gate_started_at = case when t.state = v_flight then t.gate_started_at end,
    updated_at = now()
  from picked
  left join public.user_fly_apps a on a.user_id = picked.user_id
  where t.rollout_id = p_rollout_id and t.user_id = picked.user_id
  returning t.user_id, t.batch, t.state, t.attempts, t.previous, t.gate_started_at,
    case when a.user_id is not null then jsonb_build_object('fly_app_name', a.fly_app_name,
      'machine_id', a.machine_id, 'held_at', a.held_at, 'status', a.status) end;
end
$$;

ALTER FUNCTION private.claim_fly_rollout_targets(p_rollout_id uuid, p_owner text, p_limit integer) OWNER TO postgres;

--
-- Name: FUNCTION claim_fly_rollout_targets(p_rollout_id uuid, p_owner text, p_limit integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.claim_fly_rollout_targets(p_rollout_id uuid, p_owner text, p_limit integer) IS 'For the lease holder of a running rollout: up to p_limit targets of the lowest batch with open targets (forward: pending/updating → updating; rollback: healthy/failed/updating/rolling_back → rolling_back), in-flight ones first, with their gate_started_at (null: not applied yet; attempts + 1 then) and the user''s app {fly_app_name, machine_id, held_at, status} (null: no row). Empty when the rollout is not running or nothing is open.';

--
-- Name: claim_user_fly_app(uuid, text, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.claim_user_fly_app(p_user_id uuid, p_owner text, p_lease_seconds integer DEFAULT 300) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION private.claim_user_fly_app(p_user_id uuid, p_owner text, p_lease_seconds integer) OWNER TO postgres;

--
-- Name: FUNCTION claim_user_fly_app(p_user_id uuid, p_owner text, p_lease_seconds integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.claim_user_fly_app(p_user_id uuid, p_owner text, p_lease_seconds integer) IS 'Leases one user''s row for p_owner (a unique id per reconcile) for p_lease_seconds. Returns {status: "claimed", app: row} (also when p_owner already holds it: renews), {status: "leased", app: row} when another owner holds an unexpired lease (app.lease_owner / app.lease_expires_at tell who and until when), or {status: "not_found", app: null}. Concurrent callers: exactly one gets "claimed".';

--
-- Name: claim_user_fly_apps(uuid[], text, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.claim_user_fly_apps(p_ids uuid[], p_owner text, p_lease_seconds integer) RETURNS SETOF jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION private.claim_user_fly_apps(p_ids uuid[], p_owner text, p_lease_seconds integer) OWNER TO postgres;

--
-- Name: FUNCTION claim_user_fly_apps(p_ids uuid[], p_owner text, p_lease_seconds integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.claim_user_fly_apps(p_ids uuid[], p_owner text, p_lease_seconds integer) IS 'Leases those of p_ids that no unexpired lease holds (skipping locked rows); returns them as jsonb.';

--
-- Name: create_fly_rollout(jsonb, text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.create_fly_rollout(p_request jsonb, p_actor text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
  v_tier text;
  v_unknown text;
  v_canary integer;
  v_batch integer;
  v_max_unavailable numeric;
  v_total integer;
  v_row public.fly_rollouts;
  v_start boolean;
  v_stages integer[];
  v_users uuid[] := '{}';
  v_cohort text;
  v_missing text;
begin
  if p_actor is null or btrim(p_actor) = '' then
    perform private._fail_input('actor: who starts the rollout is required');
  end if;
  if p_request is null or jsonb_typeof(p_request) <> 'object' then
    perform private._fail_input('request: must be an object');
  end if;
  select string_agg(k, ', ') into v_unknown from jsonb_object_keys(p_request) k
  where k not in ('target', 'tier', 'canary_count', 'batch_size', 'max_unavailable', 'health_timeout_s',
                  'max_failures', 'reason', 'start', 'stages', 'users', 'cohort', 'bake_s');
  if v_unknown is not null then
    perform private._fail_input(format('request: unknown field(s) %s', v_unknown));
  end if;
  perform private._check_fly_rollout_target(p_request -> 'target');

  if p_request -> 'tier' is not null and p_request -> 'tier' <> 'null'::jsonb then
    if jsonb_typeof(p_request -> 'tier') <> 'string' then
      perform private._fail_input('tier: must be a tier name');
    end if;
    v_tier := p_request ->> 'tier';
    if not exists (select 1 from public.fly_plans p where p.tier = v_tier and p.dedicated_app) then
      perform private._fail_input(format('tier: unknown tier or tier without a dedicated app: %s', v_tier));
    end if;
  end if;
  if p_request -> 'reason' is not null and jsonb_typeof(p_request -> 'reason') not in ('string', 'null') then
    perform private._fail_input('reason: must be a string');
  end if;
  if p_request -> 'start' is not null and jsonb_typeof(p_request -> 'start') <> 'boolean' then
    perform private._fail_input('start: must be a boolean');
  end if;
  v_start := coalesce((p_request ->> 'start')::boolean, true);

  -- Stages: increasing percentages in 1..100 ending at 100.
  if p_request -> 'stages' is not null and p_request -> 'stages' <> 'null'::jsonb then
    if jsonb_typeof(p_request -> 'stages') <> 'array'
       or exists (select 1 from jsonb_array_elements(p_request -> 'stages') e
                  where jsonb_typeof(e) <> 'number' or (e #>> '{}') !~ '^[0-9]{1,3}$') then
      perform private._fail_input('stages: must be a list of percentages');
    end if;
    select array_agg((e #>> '{}')::integer order by n) into v_stages
    from jsonb_array_elements(p_request -> 'stages') with ordinality as s(e, n);
    if v_stages is null or v_stages[cardinality(v_stages)] <> 100 or v_stages[1] < 1
       or exists (select 1 from generate_subscripts(v_stages, 1) i
                  where i > 1 and v_stages[i] <= v_stages[i - 1]) then
      perform private._fail_input('stages: must be increasing percentages from 1 to 100, ending at 100');
    end if;
  end if;
  -- Named users and a saved cohort go first.
  if p_request -> 'users' is not null and p_request -> 'users' <> 'null'::jsonb then
    if jsonb_typeof(p_request -> 'users') <> 'array'
       or exists (select 1 from jsonb_array_elements(p_request -> 'users') e
                  where jsonb_typeof(e) <> 'string' or (e #>> '{}') !~*
                    '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$') then
      perform private._fail_input('users: must be a list of user ids');
    end if;
    select array_agg(distinct (e #>> '{}')::uuid) into v_users from jsonb_array_elements(p_request -> 'users') e;
    v_users := coalesce(v_users, '{}');
  end if;
  if p_request -> 'cohort' is not null and p_request -> 'cohort' <> 'null'::jsonb then
    v_cohort := p_request ->> 'cohort';
    select v_users || c.user_ids into v_users from public.fly_rollout_cohorts c where c.name = v_cohort;
    if not found then
      perform private._fail_input(format('cohort: no saved cohort named %s', v_cohort));
    end if;
  end if;

  v_canary := private._request_int(p_request, 'canary_count', 1, 0);
  v_batch := private._request_int(p_request, 'batch_size', null, 1);
  if p_request -> 'max_unavailable' is not null and p_request -> 'max_unavailable' <> 'null'::jsonb then
    if jsonb_typeof(p_request -> 'max_unavailable') <> 'number'
       or (p_request ->> 'max_unavailable')::numeric <= 0 or (p_request ->> 'max_unavailable')::numeric > 1 then
      perform private._fail_input('max_unavailable: must be a fraction in (0, 1]');
    end if;
    if v_batch is not null then
      perform private._fail_input('max_unavailable: give batch_size or max_unavailable, not both');
    end if;
    v_max_unavailable := (p_request ->> 'max_unavailable')::numeric;
  elsif v_batch is null and v_stages is null then
    -- Neither given: fly deploy's default rolling strategy (a third of the machines at a time).
    v_max_unavailable := 0.33;
  end if;

  -- One creator at a time decides about overlapping scopes.
  perform pg_advisory_xact_lock(hashtext('public.fly_rollouts:create'));
  select r.* into v_row from public.fly_rollouts r
  where r.state in ('pending', 'running', 'paused', 'halted')
    and (r.tier is null or v_tier is null or r.tier = v_tier)
  order by r.created_at limit 1;
  if found then
    raise exception 'scope: rollout % (%, %) is already active; one rollout at a time for %', v_row.id,
      v_row.state, coalesce('tier ' || v_row.tier, 'all tiers'), coalesce('tier ' || v_tier, 'all tiers')
      using errcode = '23505', detail = jsonb_build_object('rollout_id', v_row.id, 'state', v_row.state)::text;
  end if;

  insert into public.fly_rollouts (tier, target, canary_count, batch_size, max_unavailable, health_timeout_s,
                                   max_failures, created_by, reason, previous_spec, stages, cohort, bake_s)
  values (v_tier, p_request -> 'target', v_canary, coalesce(v_batch, 1), v_max_unavailable,
          private._request_int(p_request, 'health_timeout_s', 300, 1),
          private._request_int(p_request, 'max_failures', 0, 0), p_actor, p_request ->> 'reason',
          coalesce((select jsonb_object_agg(p.tier, jsonb_strip_nulls(jsonb_build_object(
                      'region', p.region, 'cpu_kind', p.cpu_kind, 'cpus', p.cpus, 'memory_mb', p.memory_mb,
                      'image', p.image)))
                    from public.fly_plans p where p.dedicated_app and (v_tier is null or p.tier = v_tier)),
                   '{}'::jsonb),
          v_stages, v_cohort, private._request_int(p_request, 'bake_s', 0, 0))
  returning * into v_row;

  -- The target set: every user of the scope who should have an app.
  insert into public.fly_rollout_targets (rollout_id, user_id, batch, previous, bucket)
  select v_row.id, a.user_id, 0, jsonb_strip_nulls(jsonb_build_object(
           'image', a.docker_image, 'digest', a.image_digest, 'region', a.region, 'cpu_kind', a.cpu_kind,
           'cpus', a.cpu_count, 'memory_mb', a.memory_mb)), private.fly_rollout_bucket(a.user_id)
  from public.user_fly_apps a
  join public.user_subscriptions s on s.user_id = a.user_id
  join public.fly_plans p on p.tier = s.tier and p.dedicated_app
  where a.desired_state = 'present' and (v_tier is null or s.tier = v_tier);
  get diagnostics v_total = row_count;

  select string_agg(u::text, ', ') into v_missing from unnest(v_users) u
  where not exists (select 1 from public.fly_rollout_targets t where t.rollout_id = v_row.id and t.user_id = u);
  if v_missing is not null then
    perform private._fail_input(format('users: not in the rollout''s scope (no app wanted): %s', v_missing));
  end if;

  if v_max_unavailable is not null then
    v_batch := greatest(1, floor(v_max_unavailable * v_total)::integer);
    update public.fly_rollouts r set batch_size = v_batch where r.id = v_row.id;
  end if;

  -- The stable order: named users first, then by bucket (and hash within a bucket). Canaries are the first
  -- canary_count users of that order whose machine runs (active, not held): a canary is there to prove the
  -- image serves, which a held (stopped) or not yet provisioned user cannot. Then the named users, then each
  -- stage (the first ceil(p% of the total) of the order), each cut into batches of batch_size (a whole stage
  -- in one batch when stages are given without a batch size).
  with ordered as (
    select t.user_id,
           row_number() over (order by (t.user_id = any (v_users)) desc, t.bucket, md5(t.user_id::text)) as n,
           (t.user_id = any (v_users)) as named,
           (a.status = 'active' and a.held_at is null) as running
    from public.fly_rollout_targets t
    join public.user_fly_apps a on a.user_id = t.user_id
    where t.rollout_id = v_row.id
  ),
  canaries as (
    select o.user_id from ordered o where o.running order by o.n limit v_canary
  ),
  staged as (
    select o.user_id, o.n,
           case when o.user_id in (select c.user_id from canaries c) then 'canary'
                when o.named then 'users'
                else coalesce((select s.p || '%' from unnest(coalesce(v_stages, array[100])) s(p)
                               where o.n <= ceil(s.p * v_total / 100.0) order by s.p limit 1), '100%') end
             as stage
    from ordered o
  ),
  numbered as (
    select s.user_id, s.stage,
           case s.stage when 'canary' then 0 when 'users' then 0 else coalesce(
             array_position(coalesce(v_stages, array[100]),
                            nullif(rtrim(s.stage, '%'), '')::integer), 1) end as stage_no,
           row_number() over (partition by s.stage order by s.n) as k
    from staged s
  ),
  sized as (
    select n.user_id, n.stage, n.stage_no, n.k,
           coalesce(v_batch, greatest(1, count(*) over (partition by n.stage))::integer) as size
    from numbered n
  )
  update public.fly_rollout_targets t set
    stage = z.stage,
    batch = case when z.stage = 'canary' then 0 else z.batch_no end
  from (
    select sz.user_id, sz.stage,
           dense_rank() over (order by (sz.stage = 'users') desc, sz.stage_no, (sz.k - 1) / sz.size) as batch_no
    from sized sz where sz.stage <> 'canary'
    union all
    select sz.user_id, sz.stage, 0 from sized sz where sz.stage = 'canary'
  ) z
  where t.rollout_id = v_row.id and t.user_id = z.user_id;
  if v_batch is null and v_stages is not null then
    -- Whole stages: the batch size is the largest stage's, so a driver claims a stage at once.
    update public.fly_rollouts r set batch_size = greatest(1, coalesce((
      select max(b.n) from (select count(*)::integer as n from public.fly_rollout_targets t
                            where t.rollout_id = v_row.id and t.batch > 0 group by t.batch) b), 1))
    where r.id = v_row.id;
  end if;

  perform private._append_fly_rollout_event(v_row.id, 'created', p_actor, null, 'pending', v_row.reason,
    jsonb_strip_nulls(jsonb_build_object('target', v_row.target, 'tier', v_tier, 'total', v_total,
                                         'stages', v_stages, 'users', cardinality(v_users),
                                         'cohort', v_cohort, 'bake_s', v_row.bake_s)));
  v_row := private._count_fly_rollout(v_row.id);
  if v_start then
    return (private.transition_fly_rollout(v_row.id, 'start', p_actor, v_row.reason)) -> 'rollout';
  end if;
  return private._fly_rollout_json(v_row);
end
$_$;

ALTER FUNCTION private.create_fly_rollout(p_request jsonb, p_actor text) OWNER TO postgres;

--
-- Name: FUNCTION create_fly_rollout(p_request jsonb, p_actor text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.create_fly_rollout(p_request jsonb, p_actor text) IS 'Creates a rollout from {target, tier?, canary_count? (1), batch_size? | max_unavailable?, health_timeout_s? (300), max_failures? (0), stages? (percentages ending at 100), users? (ids first), cohort? (a saved cohort first), bake_s? (0), reason?, start? (true)}: validates (22023 naming the field), refuses an overlapping active rollout (23505 naming it and its state), snapshots each target''s previous spec, orders the targets by (named users, bucket, hash) and batches them (0 = canaries, then the named users, then each stage), and starts it unless start = false. Returns the rollout.';

--
-- Name: drain_tier_outbox(integer, boolean); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.drain_tier_outbox(p_limit integer DEFAULT 1000, p_kick boolean DEFAULT true) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_limit integer := least(greatest(coalesce(p_limit, 1000), 1), 1000);
  v_endpoint record;
  v_warned integer;
  v_markers tid[];
  v_marked_at timestamptz;
  v_drained integer;
  v_batch jsonb;
  v_room integer;
  v_bulk_drained integer := 0;
  v_bulk jsonb := '[]'::jsonb;
  v_more boolean;
  v_user_ids uuid[];
  v_kick jsonb;
begin
  -- One drainer at a time: a second one (an overlapping cron run, the sweep) returns at once. With SKIP
  -- LOCKED alone, two drainers could take two changes of one user and apply the older tier last.
  if not pg_try_advisory_xact_lock(hashtext('private.drain_tier_outbox')) then
    return jsonb_build_object('busy', true, 'drained', 0, 'users', 0, 'kicked', false, 'more', false);
  end if;

  -- The common case, every second: nothing queued. Return before touching Vault (a read decrypts on hosted).
  if not exists (select 1 from private.tier_outbox) then
    return jsonb_build_object('drained', 0, 'users', 0, 'kicked', false, 'user_ids', '[]'::jsonb,
                              'oldest_age_s', 0, 'more', false);
  end if;

  if p_kick then
    select * into v_endpoint from private.function_endpoint();
    if v_endpoint.problem is not null then
      -- Nothing is consumed: the changes wait in the outbox until the kick can be sent. Each waiting user
      -- gets one kick_failed warning event per hour, not one per run (a bulk marker names no user).
      insert into public.user_fly_app_events (fly_app_id, user_id, event_type, status, metadata, error_details)
      select a.id, w.user_id, 'kick_failed', 'warning',
             jsonb_build_object('function', 'provision-user-fly-app', 'waiting_since', w.queued_at),
             v_endpoint.problem
      from (select o.user_id, min(o.queued_at) as queued_at
            from (select user_id, queued_at from private.tier_outbox where user_id is not null limit v_limit) o
            group by o.user_id) w
      left join public.user_fly_apps a on a.user_id = w.user_id
      where not exists (
        select 1 from public.user_fly_app_events e
        where e.user_id = w.user_id and e.event_type = 'kick_failed'
          and e.created_at > now() - interval '1 hour');
      get diagnostics v_warned = row_count;
      raise warning 'tier outbox not drained: %; the changes stay queued until the kick can be sent',
        v_endpoint.problem;
      return jsonb_build_object('drained', 0, 'users', 0, 'kicked', false, 'problem', v_endpoint.problem,
                                'warned_users', v_warned, 'oldest_age_s', private.tier_outbox_oldest_age_s(),
                                'more', false);
    end if;
  end if;

  -- Bulk markers are locked first: the diff below then sees every change they stand for, and a marker
  -- committed after this point stays for the next run.
  select array_agg(t.ctid), min(t.queued_at) into v_markers, v_marked_at
  from (select ctid, queued_at from private.tier_outbox where user_id is null for update skip locked) t;

  -- Take the batch (delete by ctid: the table has no index) and record each user's desired state from the
  -- CURRENT tier, so several changes of one user collapse into one.
  with taken as (
    delete from private.tier_outbox o
    where o.ctid = any (array(select t.ctid from private.tier_outbox t where t.user_id is not null
                              limit v_limit for update skip locked))
    returning o.user_id, o.queued_at
  ), per_user as (
    select t.user_id, count(*)::integer as changes, min(t.queued_at) as first_queued_at
    from taken t group by t.user_id
  ), applied as (
    select p.*, s.tier, d.changed, d.app_id, d.desired_state, d.desired_generation
    from per_user p
    left join public.user_subscriptions s on s.user_id = p.user_id
    cross join lateral private._apply_desired_state(p.user_id, s.tier) d
  )
  select coalesce(sum(a.changes), 0)::integer, count(*)::integer,
         coalesce(jsonb_agg(to_jsonb(a) order by a.first_queued_at) filter (where a.changed), '[]'::jsonb)
  into v_drained, v_room, v_batch
  from applied a;
  v_room := v_limit - v_room;
  v_more := v_drained >= v_limit;

  -- Bulk: the users whose current tier is not recorded yet, in the room the batch has left. The markers go
  -- once the diff comes back short of that room (nothing left that they stand for).
  if v_markers is not null then
    if v_room > 0 then
      with applied as (
        select u.user_id, 0 as changes, v_marked_at as first_queued_at, s.tier, d.changed, d.app_id,
               d.desired_state, d.desired_generation
        from private.users_with_unrecorded_tier(v_room) u(user_id)
        left join public.user_subscriptions s on s.user_id = u.user_id
        cross join lateral private._apply_desired_state(u.user_id, s.tier) d
      )
      select count(*)::integer, coalesce(jsonb_agg(to_jsonb(a)) filter (where a.changed), '[]'::jsonb)
      into v_bulk_drained, v_bulk
      from applied a;
    end if;
    if v_room > 0 and v_bulk_drained < v_room then
      delete from private.tier_outbox o where o.ctid = any (v_markers);
      v_drained := v_drained + cardinality(v_markers);
    else
      v_more := true;
    end if;
    v_batch := v_batch || v_bulk;
  end if;

  -- Distinct: a user changed again between the two statements above can be in both parts.
  v_user_ids := array(select distinct (b ->> 'user_id')::uuid from jsonb_array_elements(v_batch) b);
  if p_kick and cardinality(v_user_ids) > 0 then
    v_kick := private._queue_function_post(v_endpoint.base_url, v_endpoint.secret, 'provision-user-fly-app',
      jsonb_build_object('user_ids', to_jsonb(v_user_ids), 'reason', 'tier_changed'), 5000);
    if v_kick ? 'problem' then
      raise warning 'tier outbox: kick not sent: %; the health-check sweep will catch up', v_kick ->> 'problem';
    end if;
  end if;

  insert into public.user_fly_app_events (fly_app_id, user_id, event_type, status, metadata, error_details)
  select b.app_id, b.user_id,
         case when b.desired_state = 'present' then 'provision_requested' else 'deprovision_requested' end,
         case when v_kick ? 'problem' then 'warning' else 'info' end,
         jsonb_build_object('reason', 'tier_changed', 'tier', b.tier, 'generation', b.desired_generation,
                            'changes', b.changes, 'queued_at', b.first_queued_at, 'bulk', b.changes = 0,
                            'kick', coalesce(v_kick, '{"request_id": null}'::jsonb)),
         v_kick ->> 'problem'
  from jsonb_to_recordset(v_batch) as b(user_id uuid, app_id uuid, tier text, desired_state text,
                                        desired_generation bigint, changes integer, first_queued_at timestamptz);

  return jsonb_strip_nulls(jsonb_build_object(
    'drained', v_drained, 'users', cardinality(v_user_ids), 'kicked', v_kick ->> 'request_id' is not null,
    'request_id', v_kick -> 'request_id', 'problem', v_kick ->> 'problem', 'user_ids', to_jsonb(v_user_ids),
    'bulk_users', case when v_markers is not null then v_bulk_drained end, 'more', v_more,
    'oldest_age_s', private.tier_outbox_oldest_age_s()));
end
$$;

ALTER FUNCTION private.drain_tier_outbox(p_limit integer, p_kick boolean) OWNER TO postgres;

--
-- Name: FUNCTION drain_tier_outbox(p_limit integer, p_kick boolean); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.drain_tier_outbox(p_limit integer, p_kick boolean) IS 'Drains up to p_limit (1..1000) tier changes from private.tier_outbox: for each user, the desired state of the CURRENT tier through private._apply_desired_state (several changes collapse into one), one provision_requested/deprovision_requested event, and (p_kick) ONE POST {user_ids, reason} to provision-user-fly-app for the batch, with the URL and secret read from Vault once. While a bulk marker is queued, the room the batch leaves is filled from private.users_with_unrecorded_tier() (events say bulk: true); the marker is consumed once that diff is exhausted. One drainer at a time (advisory lock; a concurrent call returns {busy: true}). When Vault is missing or malformed it consumes nothing, raises a WARNING and writes one kick_failed warning event per waiting user per hour. p_kick = false (the health sweep, which reconciles the due rows itself) needs no Vault. Returns {drained (outbox rows taken), users (users whose desired state was recorded and kicked), kicked, request_id?, problem?, user_ids, bulk_users? (users taken from the diff), more (run again at once: a full batch, or a marker still pending), oldest_age_s}.';

--
-- Name: due_now(text, boolean); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.due_now(p_status text, p_reactivate boolean DEFAULT false, OUT status text, OUT retry_count integer, OUT next_attempt_at timestamp with time zone) RETURNS record
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select case when p_status in ('error', 'failed') or (p_reactivate and p_status = 'deleted') then 'pending'
              else p_status end,
         0,
         now()
$$;

ALTER FUNCTION private.due_now(p_status text, p_reactivate boolean, OUT status text, OUT retry_count integer, OUT next_attempt_at timestamp with time zone) OWNER TO postgres;

--
-- Name: FUNCTION due_now(p_status text, p_reactivate boolean, OUT status text, OUT retry_count integer, OUT next_attempt_at timestamp with time zone); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.due_now(p_status text, p_reactivate boolean, OUT status text, OUT retry_count integer, OUT next_attempt_at timestamp with time zone) IS 'Due now with a clean slate: (status: error/failed, and deleted when p_reactivate, back to pending; retry_count 0; next_attempt_at now()). The one place for that rule.';

--
-- Name: flag_state_contradictions(uuid[], integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.flag_state_contradictions(p_live_ids uuid[] DEFAULT '{}'::uuid[], p_limit integer DEFAULT 1000) RETURNS SETOF uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  return query
  with contradicted as (
    select a.id, a.user_id, a.desired_state, a.status, a.desired_generation,
           case when a.id = any(coalesce(p_live_ids, '{}')) then 'live_machine_on_fly' else 'row_status' end
             as seen
    from public.user_fly_apps a
    where (a.lease_expires_at is null or a.lease_expires_at < now())
      and (a.next_attempt_at is null or a.next_attempt_at > now())
      and (
        (a.desired_state = 'absent' and (a.status in ('active', 'held')
                                         or (a.status = 'deleted' and a.id = any(coalesce(p_live_ids, '{}')))))
        or (a.desired_state = 'present' and a.status in ('deleted', 'suspended')))
    order by a.id
    limit greatest(p_limit, 0)
    for update skip locked
  ), due as (
    update public.user_fly_apps a set
      (status, retry_count, next_attempt_at) = (select d.* from private.due_now(a.status) d),
      updated_at = now()
    from contradicted c where c.id = a.id
    returning a.id
  ), logged as (
    insert into public.user_fly_app_events (fly_app_id, user_id, event_type, status, metadata)
    select c.id, c.user_id, 'state_contradiction', 'warning',
           jsonb_build_object('desired_state', c.desired_state, 'status', c.status, 'seen', c.seen,
                              'generation', c.desired_generation)
    from contradicted c
  )
  select d.id from due d;
end
$$;

ALTER FUNCTION private.flag_state_contradictions(p_live_ids uuid[], p_limit integer) OWNER TO postgres;

--
-- Name: FUNCTION flag_state_contradictions(p_live_ids uuid[], p_limit integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.flag_state_contradictions(p_live_ids uuid[], p_limit integer) IS 'The sweep''s safety net: rows whose observed state contradicts their desired state (absent but active or held, or deleted while the fleet listing saw a live machine of ours for it (p_live_ids); present but deleted or suspended), not leased and not already due, become due now with a state_contradiction warning naming both sides. Returns their ids (at most p_limit).';

--
-- Name: fly_fleet_versions(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.fly_fleet_versions() RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select jsonb_build_object(
    'versions', coalesce((
      select jsonb_agg(v order by v ->> 'tier', (v ->> 'machines')::integer desc) from (
        select jsonb_build_object('tier', s.tier, 'image', min(a.docker_image), 'digest', a.image_digest,
                                  -- The image a rollout pinned to this digest (its tag names the version).
                                  'rollout_image', (select r.target ->> 'image' from public.fly_rollouts r
                                                    where r.image_digest = a.image_digest
                                                    order by r.created_at desc limit 1),
                                  'machines', count(*),
                                  'running', count(*) filter (where a.last_machine_state = 'started')) as v
        from public.user_fly_apps a
        join public.user_subscriptions s on s.user_id = a.user_id
        where a.machine_id is not null and a.desired_state = 'present'
        group by s.tier, a.image_digest) x), '[]'::jsonb),
    'rollout', (
      select jsonb_build_object('id', r.id, 'state', r.state, 'tier', r.tier, 'image', r.target ->> 'image',
                                'digest', r.image_digest, 'direction', r.direction)
      from public.fly_rollouts r where r.state in ('pending', 'running', 'paused', 'halted')
      order by r.created_at desc limit 1))
$$;

ALTER FUNCTION private.fly_fleet_versions() OWNER TO postgres;

--
-- Name: FUNCTION fly_fleet_versions(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.fly_fleet_versions() IS 'Machines per tier and image digest (with the image reference they were given, the image of the rollout that pinned the digest, and how many the last observation saw started), and the active rollout''s target: {versions: [{tier, image, digest, rollout_image, machines, running}], rollout: {id, state, tier, image, digest, direction} or null}.';

--
-- Name: fly_plans_bump_version(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.fly_plans_bump_version() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  new.plan_version := old.plan_version + 1;
  return new;
end
$$;

ALTER FUNCTION private.fly_plans_bump_version() OWNER TO postgres;

--
-- Name: FUNCTION fly_plans_bump_version(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.fly_plans_bump_version() IS 'Trigger: a changed plan gets the next plan_version.';

--
-- Name: fly_plans_set_cost_estimate(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.fly_plans_set_cost_estimate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  new.monthly_cost_estimate_usd := case
    when new.dedicated_app then private.machine_monthly_cost_usd(new.cpu_kind, new.cpus, new.memory_mb)
    else 0 end;
  return new;
end
$$;

ALTER FUNCTION private.fly_plans_set_cost_estimate() OWNER TO postgres;

--
-- Name: FUNCTION fly_plans_set_cost_estimate(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.fly_plans_set_cost_estimate() IS 'Trigger: sets fly_plans.monthly_cost_estimate_usd from the plan''s size and public.fly_prices (0 without a dedicated app).';

--
-- Name: fly_prices_changed(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.fly_prices_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  perform private.refresh_cost_estimates();
  return null;
end
$$;

ALTER FUNCTION private.fly_prices_changed() OWNER TO postgres;

--
-- Name: FUNCTION fly_prices_changed(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.fly_prices_changed() IS 'Trigger: re-estimates plans and rows after any change to public.fly_prices.';

--
-- Name: fly_rollout_bake(uuid, text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.fly_rollout_bake(p_rollout_id uuid, p_owner text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_row public.fly_rollouts;
  v_next integer;
  v_done integer;
  v_failing jsonb;
  v_count integer;
begin
  v_row := private._lock_fly_rollout(p_rollout_id, p_owner);
  if v_row.state <> 'running' or v_row.direction <> 'forward' or v_row.bake_s = 0 then
    return jsonb_build_object('state', 'none');
  end if;
  select min(t.batch) into v_next from public.fly_rollout_targets t
  where t.rollout_id = p_rollout_id and t.state in ('pending', 'updating');
  select max(t.batch) into v_done from public.fly_rollout_targets t
  where t.rollout_id = p_rollout_id and t.batch < v_next;
  -- Nothing finished yet, the last batch (nothing after it to hold back), or already baked.
  if v_next is null or v_done is null or v_done <= v_row.baked_batch then
    return jsonb_build_object('state', 'none');
  end if;
  if v_row.bake_started_at is null then
    update public.fly_rollouts r set bake_started_at = now() where r.id = p_rollout_id returning * into v_row;
    perform private._append_fly_rollout_event(p_rollout_id, 'bake_started', 'system', v_row.state,
      v_row.state, null, jsonb_build_object('batch', v_done, 'bake_s', v_row.bake_s));
  end if;
  -- Machines of the finished batches that the sweep saw unhealthy or failed since the bake began.
  select count(*), coalesce(jsonb_agg(jsonb_build_object(
           'user_id', a.user_id, 'fly_app_name', a.fly_app_name, 'machine_id', a.machine_id,
           'why', case when a.last_machine_state = 'failed' then 'machine failed'
                       else 'health ' || a.health_status end) order by a.user_id), '[]'::jsonb)
    into v_count, v_failing
  from public.fly_rollout_targets t
  join public.user_fly_apps a on a.user_id = t.user_id
  where t.rollout_id = p_rollout_id and t.batch <= v_done and t.batch > v_row.baked_batch
    and t.state = 'healthy' and t.skip_reason is null
    and a.last_health_check_at >= v_row.bake_started_at
    and (a.health_status = 'unhealthy' or a.last_machine_state = 'failed');
  if v_count > v_row.max_failures then
    return jsonb_build_object('state', 'failed', 'batch', v_done, 'machines', v_failing);
  end if;
  if now() >= v_row.bake_started_at + make_interval(secs => v_row.bake_s) then
    update public.fly_rollouts r set baked_batch = v_done, bake_started_at = null where r.id = p_rollout_id;
    perform private._append_fly_rollout_event(p_rollout_id, 'bake_passed', 'system', v_row.state,
      v_row.state, null, jsonb_build_object('batch', v_done));
    return jsonb_build_object('state', 'passed', 'batch', v_done);
  end if;
  return jsonb_build_object('state', 'baking', 'batch', v_done, 'machines', v_failing,
    'seconds_left', ceil(extract(epoch from v_row.bake_started_at + make_interval(secs => v_row.bake_s) - now())));
end
$$;

ALTER FUNCTION private.fly_rollout_bake(p_rollout_id uuid, p_owner text) OWNER TO postgres;

--
-- Name: FUNCTION fly_rollout_bake(p_rollout_id uuid, p_owner text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.fly_rollout_bake(p_rollout_id uuid, p_owner text) IS 'For the lease holder of a running forward rollout with bake_s: whether the batches finished since the last bake may be followed. {state: none (no bake due) | baking (seconds_left, machines failing so far) | passed (the bake ended, recorded) | failed (more machines unhealthy or failed, as the sweep observed them since the bake began, than max_failures; machines: [{user_id, fly_app_name, machine_id, why}])}.';

--
-- Name: fly_rollout_bucket(uuid); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.fly_rollout_bucket(p_user_id uuid) RETURNS integer
    LANGUAGE sql IMMUTABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select (('x' || substr(md5(p_user_id::text), 1, 8))::bit(32)::bigint % 100)::integer
$$;

ALTER FUNCTION private.fly_rollout_bucket(p_user_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION fly_rollout_bucket(p_user_id uuid); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.fly_rollout_bucket(p_user_id uuid) IS 'A user''s stable rollout bucket, 0-99: the first 32 bits of md5(user id) modulo 100.';

--
-- Name: fly_rollout_record_in_plans(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.fly_rollout_record_in_plans() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  if new.state = 'completed' then
    update public.fly_plans p set
      image = coalesce(new.pinned_image, new.target ->> 'image', p.image),
      region = coalesce(new.target ->> 'region', p.region),
      cpu_kind = coalesce(new.target ->> 'cpu_kind', p.cpu_kind),
      cpus = coalesce((new.target ->> 'cpus')::integer, p.cpus),
      memory_mb = coalesce((new.target ->> 'memory_mb')::integer, p.memory_mb)
    where p.dedicated_app and (new.tier is null or p.tier = new.tier);
  else
    -- rolled_back: the plans as they were when the rollout was created (an absent image: the default).
    update public.fly_plans p set
      image = prev.spec ->> 'image',
      region = coalesce(prev.spec ->> 'region', p.region),
      cpu_kind = coalesce(prev.spec ->> 'cpu_kind', p.cpu_kind),
      cpus = coalesce((prev.spec ->> 'cpus')::integer, p.cpus),
      memory_mb = coalesce((prev.spec ->> 'memory_mb')::integer, p.memory_mb)
    from jsonb_each(new.previous_spec) as prev(tier, spec)
    where p.tier = prev.tier;
  end if;
  return new;
end
$$;

ALTER FUNCTION private.fly_rollout_record_in_plans() OWNER TO postgres;

--
-- Name: FUNCTION fly_rollout_record_in_plans(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.fly_rollout_record_in_plans() IS 'A rollout that completes writes its target into the scope''s plans (image pinned to the rollout''s digest); one that ends rolled_back restores the plans snapshotted at creation (previous_spec).';

--
-- Name: fly_rollout_spec_for_user(uuid); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.fly_rollout_spec_for_user(p_user_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select jsonb_build_object(
    'rollout_id', r.id, 'state', r.state, 'direction', r.direction, 'target_state', t.state,
    'include_overridden', r.include_overridden,
    'restores_previous', t.state not in ('updating', 'healthy', 'failed'),
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

ALTER FUNCTION private.fly_rollout_spec_for_user(p_user_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION fly_rollout_spec_for_user(p_user_id uuid); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.fly_rollout_spec_for_user(p_user_id uuid) IS 'For a user an active rollout covers: {rollout_id, state, direction, target_state, include_overridden, restores_previous, spec} where spec is what the controller should converge the user to now: the target + pinned digest once the user''s batch got it, else (restores_previous) the previous spec: its image reference as the row recorded it, held to the recorded digest. Null when no active rollout covers the user.';

--
-- Name: fly_rollout_status(uuid, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.fly_rollout_status(p_rollout_id uuid DEFAULT NULL::uuid, p_events integer DEFAULT 50) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select jsonb_build_object(
    'rollout', private._fly_rollout_json(r),
    'batches', coalesce((
      select jsonb_agg(b.counts order by b.batch) from (
        select t.batch, jsonb_build_object('batch', t.batch, 'stage', min(t.stage)) || jsonb_object_agg(t.state, t.n)
                 as counts
        from (select t2.batch, t2.stage, t2.state, count(*) as n from public.fly_rollout_targets t2
              where t2.rollout_id = r.id group by t2.batch, t2.stage, t2.state) t
        group by t.batch) b), '[]'::jsonb),
    'targets', coalesce((
      select jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'user_id', t.user_id, 'batch', t.batch, 'stage', t.stage, 'state', t.state,
               'attempts', t.attempts, 'gate_started_at', t.gate_started_at,
               'gate_seconds_left', case when t.gate_started_at is not null
                 and t.state in ('updating', 'rolling_back') then greatest(0, ceil(r.health_timeout_s
                   - extract(epoch from now() - t.gate_started_at)))::integer end,
               'machine_state', t.machine_state, 'failing_checks', to_jsonb(t.failing_checks),
               'skip_reason', t.skip_reason, 'error', t.error, 'fly_app_name', a.fly_app_name,
               'machine_id', a.machine_id, 'updated_at', t.updated_at)) order by t.batch, t.user_id)
      from (select * from public.fly_rollout_targets t3
            where t3.rollout_id = r.id
              and (t3.state not in ('pending', 'healthy', 'rolled_back') or t3.skip_reason is not null)
            order by t3.batch, t3.user_id limit 200) t
      left join public.user_fly_apps a on a.user_id = t.user_id), '[]'::jsonb),
    'bake', case when r.bake_started_at is not null then jsonb_build_object(
      'batch', r.baked_batch + 1, 'started_at', r.bake_started_at,
      'seconds_left', greatest(0, ceil(extract(epoch from r.bake_started_at + make_interval(secs => r.bake_s)
                                                - now())))::integer) end,
    'events', coalesce((
      select jsonb_agg(to_jsonb(e) - 'rollout_id' order by e.seq) from (
        select * from public.fly_rollout_events e2 where e2.rollout_id = r.id
        order by e2.seq desc limit greatest(coalesce(p_events, 50), 0)) e), '[]'::jsonb))
  from public.fly_rollouts r
  where r.id = p_rollout_id
     or (p_rollout_id is null and r.id = (select r2.id from public.fly_rollouts r2
                                           order by r2.created_at desc, r2.id limit 1))
$$;

ALTER FUNCTION private.fly_rollout_status(p_rollout_id uuid, p_events integer) OWNER TO postgres;

--
-- Name: FUNCTION fly_rollout_status(p_rollout_id uuid, p_events integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.fly_rollout_status(p_rollout_id uuid, p_events integer) IS 'What ops see of a rollout (the latest when p_rollout_id is null): {rollout, batches: [{batch, stage, <state>: count, ...}], targets: the targets in flight, failed, skipped or applied without a gate (at most 200) with gate_seconds_left, machine_state, failing_checks, skip_reason, error; bake: {batch, started_at, seconds_left} or null; events: the last p_events fly_rollout_events, oldest first}. Null when none.';

--
-- Name: free_fly_rollout_lease(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.free_fly_rollout_lease() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  new.lease_owner := null;
  new.lease_expires_at := null;
  return new;
end
$$;

ALTER FUNCTION private.free_fly_rollout_lease() OWNER TO postgres;

--
-- Name: FUNCTION free_fly_rollout_lease(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.free_fly_rollout_lease() IS 'Trigger: a rollout rolled back (its direction changes) or aborted loses its driver lease, so the driver kicked by the change takes it at once (the old driver''s next write fails with lease_not_held: it stops).';

--
-- Name: function_endpoint(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.function_endpoint(OUT base_url text, OUT secret text, OUT problem text) RETURNS record
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $_$
begin
  select btrim(max(s.decrypted_secret) filter (where s.name = 'project_url')),
         max(s.decrypted_secret) filter (where s.name = 'fly_kick_secret')
  into base_url, secret
  from vault.decrypted_secrets s
  where s.name in ('project_url', 'fly_kick_secret');
  if base_url is null or base_url = '' then
    problem := 'vault secret project_url is missing';
  elsif secret is null or secret = '' then
    problem := 'vault secret fly_kick_secret is missing';
  elsif base_url !~* '^https?://[^/\s?#]+[^\s]*$' then
    problem := 'vault secret project_url is not an http(s) URL';
  end if;
  base_url := rtrim(base_url, '/');
end
$_$;

ALTER FUNCTION private.function_endpoint(OUT base_url text, OUT secret text, OUT problem text) OWNER TO postgres;

--
-- Name: FUNCTION function_endpoint(OUT base_url text, OUT secret text, OUT problem text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.function_endpoint(OUT base_url text, OUT secret text, OUT problem text) IS 'Reads Vault once: base_url (project_url without trailing slash), secret (fly_kick_secret: the kick secret, never the admin secret) and problem (null when both are usable; else which secret is missing or malformed, never a value). Owner only.';

--
-- Name: get_desired_spec(uuid); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.get_desired_spec(p_user_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select jsonb_build_object(
    'user_id', p_user_id,
    'tier', coalesce(a.desired_tier, s.tier),
    'desired_state', case when a.desired_state = 'present' and p.dedicated_app then 'present'
                          when a.id is null and coalesce(p.dedicated_app, false) then 'present'
                          else 'absent' end,
    'desired_generation', a.desired_generation,
    'deprovision_grace_seconds', p.deprovision_grace_seconds,
    'rollout', private.fly_rollout_spec_for_user(p_user_id),
    'override', private.user_fly_app_override(p_user_id),
    'plan', case when coalesce(p.dedicated_app, false) then jsonb_build_object(
      'tier', p.tier, 'plan_version', p.plan_version, 'region', p.region, 'cpu_kind', p.cpu_kind,
      'cpus', p.cpus, 'memory_mb', p.memory_mb, 'image', p.image, 'public_services', p.public_services,
      'monthly_cost_estimate_usd', p.monthly_cost_estimate_usd,
      'volume_size_gb', p.volume_size_gb, 'volume_mount_path', p.volume_mount_path,
      'deprovision_grace_seconds', p.deprovision_grace_seconds, 'idle_action', p.idle_action) end)
  from (select p_user_id as uid) u
  left join public.user_fly_apps a on a.user_id = u.uid
  left join public.user_subscriptions s on s.user_id = u.uid
  left join public.fly_plans p on p.tier = coalesce(a.desired_tier, s.tier)
$$;

ALTER FUNCTION private.get_desired_spec(p_user_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION get_desired_spec(p_user_id uuid); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.get_desired_spec(p_user_id uuid) IS 'What the user should have under the row''s recorded desired generation (never the unrecorded current tier: the drainer records that as a new generation): {user_id, tier (the recorded desired_tier), desired_state present|absent (the row''s; absent when its tier''s plan has no app), desired_generation, deprovision_grace_seconds, rollout (private.fly_rollout_spec_for_user), override ({version, cpu_kind?, cpus?, memory_mb?, region?, image?} or null), plan: {tier, plan_version, region, cpu_kind, cpus, memory_mb, image, public_services, monthly_cost_estimate_usd, volume_size_gb, volume_mount_path, deprovision_grace_seconds, idle_action} or null}.';

--
-- Name: has_image_override(uuid); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.has_image_override(p_user_id uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select exists (select 1 from public.user_fly_app_overrides o where o.user_id = p_user_id and o.image is not null)
$$;

ALTER FUNCTION private.has_image_override(p_user_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION has_image_override(p_user_id uuid); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.has_image_override(p_user_id uuid) IS 'Whether an ops override pins the user''s image (a rollout leaves such users alone unless told otherwise).';

--
-- Name: invoke_health_check(jsonb); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.invoke_health_check(p_body jsonb DEFAULT '{}'::jsonb) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_result jsonb;
begin
  v_result := private.post_to_function('check-fly-apps-health', coalesce(p_body, '{}'::jsonb), 5000);
  if v_result ? 'problem' then
    -- Fail the cron run visibly (cron.job_run_details.status = 'failed' with this message).
    raise exception 'check-fly-apps-health not called: %', v_result ->> 'problem' using errcode = '55000';
  end if;
  return (v_result ->> 'request_id')::bigint;
end
$$;

ALTER FUNCTION private.invoke_health_check(p_body jsonb) OWNER TO postgres;

--
-- Name: FUNCTION invoke_health_check(p_body jsonb); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.invoke_health_check(p_body jsonb) IS 'Queues POST <vault project_url>/functions/v1/check-fly-apps-health (body p_body, default {}) with the provisioner secret from Vault; returns the pg_net request id. Raises when the Vault secrets are missing or the URL is bad, so the pg_cron run is recorded as failed. Run every minute by the cron job check-fly-apps-health. Note that a succeeded cron run only means the request was queued.';

--
-- Name: lease_fly_rollouts(text, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.lease_fly_rollouts(p_owner text, p_lease_seconds integer) RETURNS SETOF jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  if p_owner is null or p_lease_seconds is null or p_lease_seconds <= 0 then
    perform private._fail_input('lease: owner and a positive lease are required');
  end if;
  return query
  update public.fly_rollouts r set
    lease_owner = p_owner,
    lease_expires_at = now() + make_interval(secs => p_lease_seconds)
  where r.state = 'running'
    and (r.lease_owner is null or r.lease_owner = p_owner or r.lease_expires_at < now())
  returning private._fly_rollout_json(r);
end
$$;

ALTER FUNCTION private.lease_fly_rollouts(p_owner text, p_lease_seconds integer) OWNER TO postgres;

--
-- Name: FUNCTION lease_fly_rollouts(p_owner text, p_lease_seconds integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.lease_fly_rollouts(p_owner text, p_lease_seconds integer) IS 'Leases every running rollout no other driver holds (or renews ours) for p_lease_seconds; returns them.';

--
-- Name: machine_monthly_cost_usd(text, integer, integer, integer, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.machine_monthly_cost_usd(p_cpu_kind text, p_cpus integer, p_memory_mb integer, p_dedicated_ipv4 integer DEFAULT 0, p_volume_gb integer DEFAULT 0) RETURNS numeric
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select round(
    p_cpus * cpu.monthly_usd
    + greatest(p_memory_mb - p_cpus * coalesce(cpu.included_memory_mb_per_cpu, 0), 0) / 1024.0 * mem.monthly_usd
    + coalesce(p_dedicated_ipv4, 0) * ip.monthly_usd
    + coalesce(p_volume_gb, 0) * vol.monthly_usd, 2)
  from public.fly_prices cpu, public.fly_prices mem, public.fly_prices ip, public.fly_prices vol
  where cpu.item = 'cpu_' || p_cpu_kind and mem.item = 'memory_gb' and ip.item = 'ipv4_dedicated'
    and vol.item = 'volume_gb' and p_cpus > 0 and p_memory_mb > 0
$$;

ALTER FUNCTION private.machine_monthly_cost_usd(p_cpu_kind text, p_cpus integer, p_memory_mb integer, p_dedicated_ipv4 integer, p_volume_gb integer) OWNER TO postgres;

--
-- Name: FUNCTION machine_monthly_cost_usd(p_cpu_kind text, p_cpus integer, p_memory_mb integer, p_dedicated_ipv4 integer, p_volume_gb integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.machine_monthly_cost_usd(p_cpu_kind text, p_cpus integer, p_memory_mb integer, p_dedicated_ipv4 integer, p_volume_gb integer) IS 'Cost of 30 days of running one machine of this guest (cpu_kind, cpus, memory_mb) plus dedicated IPv4 addresses and volume GB, from public.fly_prices; null for an unknown kind or size.';

--
-- Name: make_expired_kept_volumes_due(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.make_expired_kept_volumes_due() RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  with due as (
    update public.user_fly_apps a set next_attempt_at = now()
    where a.user_id in (select m.user_id from public.user_fly_volume_moves m
                        where m.kept_state = 'kept' and m.keep_until <= now())
      and a.lease_owner is null and (a.next_attempt_at is null or a.next_attempt_at > now())
      and a.status not in ('deleted', 'error', 'failed')
    returning 1
  )
  select count(*)::integer from due
$$;

ALTER FUNCTION private.make_expired_kept_volumes_due() OWNER TO postgres;

--
-- Name: FUNCTION make_expired_kept_volumes_due(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.make_expired_kept_volumes_due() IS 'Makes the users whose kept volume''s keep period is over due now (the sweep reconciles them and the engine deletes the volume after a final snapshot); returns how many.';

--
-- Name: on_user_tier_change(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.on_user_tier_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  -- Changes this transaction has queued so far, or 'bulk' once it wrote its marker (transaction-local:
  -- rolled back with the rows it counts).
  v_count text := pg_catalog.current_setting('fly_apps.tier_changes_queued', true);
  v_queued integer;
  v_set text;
begin
  if v_count = 'bulk' then
    return null;
  end if;
  v_queued := coalesce(nullif(v_count, '')::integer, 0);
  if v_queued < 64 then
    insert into private.tier_outbox (user_id) values (coalesce(new.user_id, old.user_id));
    v_set := pg_catalog.set_config('fly_apps.tier_changes_queued', (v_queued + 1)::text, true);
  else
    insert into private.tier_outbox (user_id) values (null);
    v_set := pg_catalog.set_config('fly_apps.tier_changes_queued', 'bulk', true);
  end if;
  return null;
end
$$;

ALTER FUNCTION private.on_user_tier_change() OWNER TO postgres;

--
-- Name: FUNCTION on_user_tier_change(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.on_user_tier_change() IS 'Trigger on user_subscriptions (after insert or delete; after update of tier when it really changed), in the writer''s transaction: the first 64 changes of a transaction append (user_id, queued_at) to private.tier_outbox each, the 65th appends one bulk marker (user_id null) and sets the transaction-local count fly_apps.tier_changes_queued to ''bulk'': later changes append nothing (the marker stands for them).';

--
-- Name: ops_doctor_report(text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.ops_doctor_report(p_admin_secret_sha256 text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
  v_vault jsonb;
  v_cron jsonb;
  v_net jsonb;
begin
  if to_regclass('vault.decrypted_secrets') is null then
    v_vault := jsonb_build_object('available', false);
  else
    execute $q$
      select jsonb_build_object('available', true,
        'project_url', exists(select 1 from vault.decrypted_secrets
                              where name = 'project_url' and coalesce(btrim(decrypted_secret), '') <> ''),
        'fly_kick_secret', exists(select 1 from vault.decrypted_secrets
                              where name = 'fly_kick_secret' and coalesce(decrypted_secret, '') <> ''),
        'legacy_fly_provisioner_secret', exists(select 1 from vault.decrypted_secrets
                              where name = 'fly_provisioner_secret'),
        'admin_secret_in_vault', $1 is not null and exists(select 1 from vault.decrypted_secrets
                              where encode(sha256(convert_to(coalesce(decrypted_secret, ''), 'UTF8')), 'hex')
                                    = lower($1)),
        'project_url_is_http', coalesce((select btrim(decrypted_secret) ~* '^https?://[^/\s?#]+'
                              from vault.decrypted_secrets where name = 'project_url' limit 1), false))
    $q$ into v_vault using p_admin_secret_sha256;
  end if;

  if to_regclass('cron.job') is null then
    v_cron := jsonb_build_object('available', false);
  else
    execute $q$
      select jsonb_build_object('available', true,
        'job', (select jsonb_build_object('schedule', j.schedule, 'active', j.active, 'command', j.command)
                from cron.job j where j.jobname = 'check-fly-apps-health' limit 1),
        'scheduled_since', greatest(pg_postmaster_start_time(),
                                    (select s.scheduled_at from private.cron_job_schedules s
                                     where s.jobname = 'check-fly-apps-health')),
        'last_run', (select jsonb_build_object('status', d.status, 'start_time', d.start_time,
                                               'end_time', d.end_time, 'message', left(d.return_message, 300))
                     from cron.job_run_details d join cron.job j on j.jobid = d.jobid
                     where j.jobname = 'check-fly-apps-health'
                     order by d.start_time desc nulls last limit 1))
    $q$ into v_cron;
  end if;

  if to_regclass('net._http_response') is null then
    v_net := jsonb_build_object('available', false);
  else
    execute $q$
      select jsonb_build_object('available', true,
        'queued', (select count(*) from net.http_request_queue),
        'oldest_queued_id', (select min(id) from net.http_request_queue),
        'responses_last_2m', (select count(*) from net._http_response
                              where created > now() - interval '2 minutes'),
        'ok_last_2m', (select count(*) from net._http_response
                       where created > now() - interval '2 minutes' and status_code between 200 and 299),
        'latest', (select jsonb_build_object('status_code', r.status_code, 'timed_out', r.timed_out,
                                             'error', left(r.error_msg, 300), 'created', r.created)
                   from net._http_response r order by r.created desc limit 1))
    $q$ into v_net;
  end if;

  return jsonb_build_object('vault', v_vault, 'cron', v_cron, 'net', v_net, 'checked_at', now());
end
$_$;

ALTER FUNCTION private.ops_doctor_report(p_admin_secret_sha256 text) OWNER TO postgres;

--
-- Name: FUNCTION ops_doctor_report(p_admin_secret_sha256 text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.ops_doctor_report(p_admin_secret_sha256 text) IS 'Database side of `ops doctor`, names and states only (never a secret value): which Vault secrets exist (fly_kick_secret; a legacy fly_provisioner_secret; whether any equals the admin secret whose SHA-256 hex is p_admin_secret_sha256), the check-fly-apps-health cron job, since when it is scheduled (scheduled_since: the later of the server start and private.cron_job_schedules) and its last run, pg_net''s queue and its recent responses.';

--
-- Name: pin_fly_rollout_digest(uuid, text, text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.pin_fly_rollout_digest(p_rollout_id uuid, p_digest text, p_pinned_image text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
  v_row public.fly_rollouts;
begin
  if p_digest is null or p_digest !~ '^sha256:[0-9a-f]{64}$' then
    perform private._fail_input('image_digest: must be sha256:<64 hex>');
  end if;
  if p_pinned_image is null or right(p_pinned_image, length(p_digest) + 1) <> '@' || p_digest then
    perform private._fail_input('pinned_image: must be the image reference pinned to the digest (…@sha256:…)');
  end if;
  update public.fly_rollouts r set image_digest = p_digest, pinned_image = p_pinned_image, updated_at = now()
  where r.id = p_rollout_id and r.image_digest is null
  returning * into v_row;
  if found then
    perform private._append_fly_rollout_event(p_rollout_id, 'digest_pinned', 'system', v_row.state,
      v_row.state, null, jsonb_build_object('image_digest', p_digest));
    return p_digest;
  end if;
  select * into v_row from public.fly_rollouts r where r.id = p_rollout_id;
  if not found then
    raise exception 'rollout % does not exist', p_rollout_id using errcode = 'P0002';
  end if;
  return v_row.image_digest;
end
$_$;

ALTER FUNCTION private.pin_fly_rollout_digest(p_rollout_id uuid, p_digest text, p_pinned_image text) OWNER TO postgres;

--
-- Name: FUNCTION pin_fly_rollout_digest(p_rollout_id uuid, p_digest text, p_pinned_image text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.pin_fly_rollout_digest(p_rollout_id uuid, p_digest text, p_pinned_image text) IS 'Pins the rollout''s image digest once (the first writer wins), with the target image pinned to it as the driver computed it (p_pinned_image, what a completed rollout writes into the plans); returns the pinned digest.';

--
-- Name: post_to_function(text, jsonb, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.post_to_function(p_function text, p_body jsonb, p_timeout_milliseconds integer DEFAULT 5000) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_endpoint record;
begin
  select * into v_endpoint from private.function_endpoint();
  if v_endpoint.problem is not null then
    return jsonb_build_object('function', p_function, 'request_id', null, 'problem', v_endpoint.problem);
  end if;
  return private._queue_function_post(v_endpoint.base_url, v_endpoint.secret, p_function, p_body,
                                      p_timeout_milliseconds);
end
$$;

ALTER FUNCTION private.post_to_function(p_function text, p_body jsonb, p_timeout_milliseconds integer) OWNER TO postgres;

--
-- Name: FUNCTION post_to_function(p_function text, p_body jsonb, p_timeout_milliseconds integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.post_to_function(p_function text, p_body jsonb, p_timeout_milliseconds integer) IS 'Queues POST <vault project_url>/functions/v1/<p_function> with body p_body, Authorization: Bearer <vault fly_kick_secret> and an explicit timeout, through net.http_post (sent only after commit). Never raises: returns {function, request_id} or {function, request_id: null, problem} (missing Vault secret, bad URL, pg_net error; secret values redacted).';

--
-- Name: record_fleet_states(jsonb); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.record_fleet_states(p_states jsonb) RETURNS TABLE(id uuid, user_id uuid, fly_app_name text, status text, desired_state text, machine_id text, health_status text, held_at timestamp with time zone, previous_state text, state text, live_machines integer, observed_machine_id text)
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  with seen as (
    select s.app_name, s.state, s.machine_id, s.live_machines, s.observed_at
    from jsonb_to_recordset(p_states)
      as s(app_name text, state text, machine_id text, live_machines integer, observed_at timestamptz)
  ), before as (
    select a.id, a.last_machine_state from public.user_fly_apps a join seen on seen.app_name = a.fly_app_name
    -- A deleted row whose machines are all gone is settled: destroyed machines in a listing say nothing.
    where not (a.status = 'deleted' and seen.live_machines = 0)
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

ALTER FUNCTION private.record_fleet_states(p_states jsonb) OWNER TO postgres;

--
-- Name: FUNCTION record_fleet_states(p_states jsonb); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.record_fleet_states(p_states jsonb) IS 'Writes last_machine_state/last_observed_at of the rows whose app appears in p_states [{app_name, state, machine_id, live_machines, observed_at}] in one statement, except deleted rows whose machines are all gone (destroyed machines are ignored); returns each written row with its previous state, for the sweep to decide which apps need a closer look.';

--
-- Name: record_fly_rollout_target(uuid, text, uuid, text, text, text, jsonb); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.record_fly_rollout_target(p_rollout_id uuid, p_owner text, p_user_id uuid, p_outcome text, p_image_digest text DEFAULT NULL::text, p_error text DEFAULT NULL::text, p_details jsonb DEFAULT '{}'::jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_target public.fly_rollout_targets;
  v_to text;
  v_row public.fly_rollouts;
  v_details jsonb := coalesce(p_details, '{}'::jsonb);
  v_checks text[];
begin
  if p_outcome is null or p_outcome not in ('healthy', 'failed', 'progressing', 'gate', 'skipped') then
    perform private._fail_input('outcome: must be healthy, failed, progressing, gate or skipped');
  end if;
  if p_outcome = 'gate' and (v_details ->> 'gate_started_at') is null then
    perform private._fail_input('gate_started_at: required with outcome gate');
  end if;
  if p_outcome = 'skipped' and (v_details ->> 'skip_reason') is null then
    perform private._fail_input('skip_reason: required with outcome skipped');
  end if;
  perform private._lock_fly_rollout(p_rollout_id, p_owner);
  select * into v_target from public.fly_rollout_targets t
  where t.rollout_id = p_rollout_id and t.user_id = p_user_id for update;
  if not found then
    raise exception 'user % is not a target of rollout %', p_user_id, p_rollout_id using errcode = 'P0002';
  end if;
  if v_target.state not in ('updating', 'rolling_back') then
    -- Already recorded (a repeated call): nothing to do.
    select * into v_row from public.fly_rollouts r where r.id = p_rollout_id;
    return private._fly_rollout_json(v_row);
  end if;
  select array_agg(c) into v_checks from jsonb_array_elements_text(v_details -> 'failing_checks') c
  where jsonb_typeof(v_details -> 'failing_checks') = 'array';
  if p_outcome in ('progressing', 'gate') then
    update public.fly_rollout_targets t set
      error = left(p_error, 4000),
      gate_started_at = coalesce(t.gate_started_at, (v_details ->> 'gate_started_at')::timestamptz),
      machine_state = coalesce(v_details ->> 'machine_state', t.machine_state),
      failing_checks = coalesce(v_checks, t.failing_checks),
      image_digest = coalesce(p_image_digest, t.image_digest),
      updated_at = now()
    where t.rollout_id = p_rollout_id and t.user_id = p_user_id;
    select * into v_row from public.fly_rollouts r where r.id = p_rollout_id;
    return private._fly_rollout_json(v_row);
  end if;
  v_to := case
    when p_outcome = 'skipped' then 'skipped'
    when v_target.state = 'updating' then p_outcome
    when p_outcome = 'healthy' then 'rolled_back'
    else 'rollback_failed' end;
  update public.fly_rollout_targets t set
    state = v_to,
    image_digest = coalesce(p_image_digest, t.image_digest),
    error = case when p_outcome = 'failed' then left(p_error, 4000) end,
    skip_reason = v_details ->> 'skip_reason',
    machine_state = coalesce(v_details ->> 'machine_state', t.machine_state),
    failing_checks = case when p_outcome = 'failed' then coalesce(v_checks, t.failing_checks) end,
    updated_at = now()
  where t.rollout_id = p_rollout_id and t.user_id = p_user_id;
  perform private.append_user_fly_app_event(p_user_id, 'rollout_target_' || v_to,
    case when p_outcome in ('healthy', 'skipped') then 'ok' else 'error' end,
    jsonb_strip_nulls(jsonb_build_object('rollout_id', p_rollout_id, 'batch', v_target.batch,
                                         'attempts', v_target.attempts, 'image_digest', p_image_digest,
                                         'skip_reason', v_details ->> 'skip_reason')),
    case when p_outcome = 'failed' then p_error end);
  v_row := private._count_fly_rollout(p_rollout_id);
  return private._fly_rollout_json(v_row);
end
$$;

ALTER FUNCTION private.record_fly_rollout_target(p_rollout_id uuid, p_owner text, p_user_id uuid, p_outcome text, p_image_digest text, p_error text, p_details jsonb) OWNER TO postgres;

--
-- Name: FUNCTION record_fly_rollout_target(p_rollout_id uuid, p_owner text, p_user_id uuid, p_outcome text, p_image_digest text, p_error text, p_details jsonb); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.record_fly_rollout_target(p_rollout_id uuid, p_owner text, p_user_id uuid, p_outcome text, p_image_digest text, p_error text, p_details jsonb) IS 'Records what a driver saw of a claimed target. progressing (update not applied yet) and gate (applied, waiting on its health gate; p_details.gate_started_at is kept from the first record) leave it claimed with the machine state and failing checks of p_details; healthy / failed end it (forward → healthy/failed, rollback → rolled_back/rollback_failed), skipped (p_details.skip_reason) leaves it alone. An ending appends a rollout_target_<state> event for the user, recomputes the counters; returns the rollout. A target not in flight is left as it is.';

--
-- Name: record_machine_observations(jsonb, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.record_machine_observations(p_observations jsonb, p_max_gap_seconds integer DEFAULT 600) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_count integer;
begin
  if p_observations is null or jsonb_typeof(p_observations) <> 'array' then
    raise exception 'observations must be a jsonb array' using errcode = '22023';
  end if;
  -- One writer at a time: two sweeps observing the same machine must not both count the same interval.
  lock table private.machine_last_observations in share row exclusive mode;

  with incoming as (
    select distinct on (o.machine_id, o.observed_at) o.user_id, o.machine_id, o.state, o.observed_at
    from jsonb_to_recordset(p_observations) as o(user_id uuid, machine_id text, state text, observed_at timestamptz)
    left join private.machine_last_observations l on l.machine_id = o.machine_id
    where o.user_id is not null and o.machine_id is not null and o.state is not null and o.observed_at is not null
      and o.observed_at > coalesce(l.observed_at, '-infinity')
  ),
  timeline as (
    select i.user_id, i.machine_id, i.state, i.observed_at, true as fresh from incoming i
    union all
    select l.user_id, l.machine_id, l.state, l.observed_at, false
    from private.machine_last_observations l where l.machine_id in (select machine_id from incoming)
  ),
  steps as (
    select t.user_id, t.observed_at, t.fresh,
           lag(t.state) over w as prev_state, lag(t.observed_at) over w as prev_at
    from timeline t
    window w as (partition by t.machine_id order by t.observed_at)
  ),
  running as (
    select s.user_id, s.prev_at as from_at, s.observed_at as to_at from steps s
    where s.fresh and s.prev_state = 'started'
      and s.observed_at - s.prev_at <= make_interval(secs => p_max_gap_seconds)
  ),
  per_day as (
    select r.user_id, d::date as day,
           extract(epoch from least(r.to_at, d + interval '1 day') - greatest(r.from_at, d)) as seconds
    from running r,
         generate_series(date_trunc('day', r.from_at at time zone 'UTC'),
                         date_trunc('day', r.to_at at time zone 'UTC'), interval '1 day') d
  ),
  observed_days as (
    select s.user_id, (s.observed_at at time zone 'UTC')::date as day, count(*)::integer as observations
    from steps s where s.fresh group by 1, 2
  ),
  usage as (
    select coalesce(p.user_id, o.user_id) as user_id, coalesce(p.day, o.day) as day,
           coalesce(p.seconds, 0) as seconds, coalesce(o.observations, 0) as observations
    from (select user_id, day, round(sum(seconds))::integer as seconds from per_day
          where seconds > 0 group by 1, 2) p
    full join observed_days o on o.user_id = p.user_id and o.day = p.day
  ),
  written as (
    insert into public.user_fly_app_usage_daily as u (user_id, day, running_seconds, observations)
    select user_id, day, least(seconds, 86400), observations from usage
    on conflict (user_id, day) do update set
      running_seconds = least(u.running_seconds + excluded.running_seconds, 86400),
      observations = u.observations + excluded.observations,
      updated_at = now()
    returning 1
  ),
  latest as (
    select distinct on (i.machine_id) i.machine_id, i.user_id, i.state, i.observed_at
    from incoming i order by i.machine_id, i.observed_at desc
  ),
  remembered as (
    insert into private.machine_last_observations as l (machine_id, user_id, state, observed_at)
    select machine_id, user_id, state, observed_at from latest
    on conflict (machine_id) do update set
      user_id = excluded.user_id, state = excluded.state, observed_at = excluded.observed_at
    returning 1
  )
  select (select count(*) from incoming) into v_count
  from (select count(*) from written) w, (select count(*) from remembered) r;
  return v_count;
end
$$;

ALTER FUNCTION private.record_machine_observations(p_observations jsonb, p_max_gap_seconds integer) OWNER TO postgres;

--
-- Name: FUNCTION record_machine_observations(p_observations jsonb, p_max_gap_seconds integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.record_machine_observations(p_observations jsonb, p_max_gap_seconds integer) IS 'Records observed machine states [{user_id, machine_id, state, observed_at}] (set-based, any order; observations not newer than the machine''s last recorded one are ignored). The time since the machine''s previous observation counts as running when that observation saw it started and the gap is at most p_max_gap_seconds (a longer gap is unknown, not counted); the seconds are split over UTC days into public.user_fly_app_usage_daily. Returns the number of observations taken. Called by the sweep for every machine it observes.';

--
-- Name: record_observations(text, jsonb); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.record_observations(p_owner text, p_items jsonb) RETURNS TABLE(id uuid, kept jsonb)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION private.record_observations(p_owner text, p_items jsonb) OWNER TO postgres;

--
-- Name: FUNCTION record_observations(p_owner text, p_items jsonb); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.record_observations(p_owner text, p_items jsonb) IS 'Applies observations [{id, patch, events?, release?}] in one transaction. With p_owner: only rows p_owner leases (released unless release is false). Without: only rows no unexpired lease holds. Returns the id of each row written, and the row itself when its lease is kept (for a repair that follows).';

--
-- Name: record_outcome(uuid, text, bigint, jsonb, jsonb, boolean); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.record_outcome(p_app_id uuid, p_owner text, p_generation bigint, p_patch jsonb DEFAULT '{}'::jsonb, p_events jsonb DEFAULT '[]'::jsonb, p_release boolean DEFAULT true) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION private.record_outcome(p_app_id uuid, p_owner text, p_generation bigint, p_patch jsonb, p_events jsonb, p_release boolean) OWNER TO postgres;

--
-- Name: FUNCTION record_outcome(p_app_id uuid, p_owner text, p_generation bigint, p_patch jsonb, p_events jsonb, p_release boolean); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.record_outcome(p_app_id uuid, p_owner text, p_generation bigint, p_patch jsonb, p_events jsonb, p_release boolean) IS 'Records one attempt at desired generation p_generation: raises 55000 (lease_not_held) unless p_owner holds the lease; applies p_patch (whitelisted columns); keeps observed_generation monotonic; when a newer generation was recorded meanwhile, makes the row due now with retry_count 0; appends p_events [{event_type, status?, metadata?, error_details?}]; releases the lease unless p_release is false. Returns the row.';

--
-- Name: refresh_cost_estimates(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.refresh_cost_estimates() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_rows integer;
begin
  update public.fly_plans p set monthly_cost_estimate_usd = null;  -- the trigger recomputes it
  -- Seed rows recorded cpu_count and memory_mb but no cpu_kind: the seed system only used shared CPUs.
  update public.user_fly_apps a set
    monthly_cost_estimate_usd = case
      when a.desired_state = 'absent' then 0
      else private.machine_monthly_cost_usd(coalesce(a.cpu_kind, 'shared'), a.cpu_count, a.memory_mb)
    end
  where a.desired_state = 'absent' or (a.cpu_count is not null and a.memory_mb is not null);
  get diagnostics v_rows = row_count;
  return v_rows;
end
$$;

ALTER FUNCTION private.refresh_cost_estimates() OWNER TO postgres;

--
-- Name: FUNCTION refresh_cost_estimates(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.refresh_cost_estimates() IS 'Recomputes monthly_cost_estimate_usd from public.fly_prices: every plan (from its size) and every app row with a recorded size (0 when no app is wanted). A row without a size yet gets its plan''s estimate from the engine when it converges. Run when prices change (the fly_prices trigger does).';

--
-- Name: reject_event_change(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.reject_event_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  raise exception 'user_fly_app_events is append-only (% refused)', tg_op using errcode = '42501';
end
$$;

ALTER FUNCTION private.reject_event_change() OWNER TO postgres;

--
-- Name: reject_fly_rollout_event_change(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.reject_fly_rollout_event_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  raise exception 'fly_rollout_events is append-only (% refused)', tg_op using errcode = '42501';
end
$$;

ALTER FUNCTION private.reject_fly_rollout_event_change() OWNER TO postgres;

--
-- Name: FUNCTION reject_fly_rollout_event_change(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.reject_fly_rollout_event_change() IS 'Trigger: refuses UPDATE and DELETE on fly_rollout_events (append-only).';

--
-- Name: release_fly_rollout(uuid, text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.release_fly_rollout(p_rollout_id uuid, p_owner text) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  update public.fly_rollouts r set lease_owner = null, lease_expires_at = null
  where r.id = p_rollout_id and r.lease_owner = p_owner
$$;

ALTER FUNCTION private.release_fly_rollout(p_rollout_id uuid, p_owner text) OWNER TO postgres;

--
-- Name: FUNCTION release_fly_rollout(p_rollout_id uuid, p_owner text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.release_fly_rollout(p_rollout_id uuid, p_owner text) IS 'Releases the driver lease of a rollout if p_owner holds it.';

--
-- Name: release_rolled_out_image_overrides(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.release_rolled_out_image_overrides() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_override public.user_fly_app_overrides;
begin
  for v_override in
    select o.* from public.user_fly_app_overrides o
    join public.fly_rollout_targets t on t.user_id = o.user_id
    where t.rollout_id = new.id and t.state = 'healthy' and o.image is not null
  loop
    perform private.set_user_fly_app_override(v_override.user_id,
      jsonb_strip_nulls(jsonb_build_object('cpu_kind', v_override.cpu_kind, 'cpus', v_override.cpus,
        'memory_mb', v_override.memory_mb, 'region', v_override.region)),
      'rollout:' || new.id, 'the image was rolled out (--include-overridden)');
  end loop;
  return null;
end
$$;

ALTER FUNCTION private.release_rolled_out_image_overrides() OWNER TO postgres;

--
-- Name: FUNCTION release_rolled_out_image_overrides(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.release_rolled_out_image_overrides() IS 'Trigger: when a rollout with include_overridden completes forward, its healthy targets'' overrides lose their image (private.set_user_fly_app_override, actor rollout:<id>), so the plan''s image@digest holds.';

--
-- Name: release_sweep_lease(text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.release_sweep_lease(p_owner text) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  with gone as (delete from private.sweep_lease where owner = p_owner returning 1)
  select exists (select 1 from gone);
$$;

ALTER FUNCTION private.release_sweep_lease(p_owner text) OWNER TO postgres;

--
-- Name: FUNCTION release_sweep_lease(p_owner text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.release_sweep_lease(p_owner text) IS 'Gives the sweep lease back if p_owner holds it; returns whether it did.';

--
-- Name: release_user_fly_app(uuid, text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.release_user_fly_app(p_app_id uuid, p_owner text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  update public.user_fly_apps a
  set lease_owner = null, lease_expires_at = null, updated_at = now()
  where a.id = p_app_id and a.lease_owner = p_owner;
  return found;
end
$$;

ALTER FUNCTION private.release_user_fly_app(p_app_id uuid, p_owner text) OWNER TO postgres;

--
-- Name: FUNCTION release_user_fly_app(p_app_id uuid, p_owner text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.release_user_fly_app(p_app_id uuid, p_owner text) IS 'Releases p_owner''s lease without recording an outcome (e.g. nothing to do). Returns false when p_owner did not hold it. next_attempt_at is untouched: a due row stays due.';

--
-- Name: renew_user_fly_app_lease(uuid, text, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.renew_user_fly_app_lease(p_app_id uuid, p_owner text, p_lease_seconds integer DEFAULT 300) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  update public.user_fly_apps a
  set lease_expires_at = now() + make_interval(secs => greatest(p_lease_seconds, 1))
  where a.id = p_app_id and a.lease_owner = p_owner;
  return found;
end
$$;

ALTER FUNCTION private.renew_user_fly_app_lease(p_app_id uuid, p_owner text, p_lease_seconds integer) OWNER TO postgres;

--
-- Name: FUNCTION renew_user_fly_app_lease(p_app_id uuid, p_owner text, p_lease_seconds integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.renew_user_fly_app_lease(p_app_id uuid, p_owner text, p_lease_seconds integer) IS 'Extends p_owner''s lease (e.g. during a long machine wait). false: the lease is no longer ours; stop.';

--
-- Name: repair_desired_state_drift(integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.repair_desired_state_drift(p_limit integer DEFAULT 100) RETURNS SETOF uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION private.repair_desired_state_drift(p_limit integer) OWNER TO postgres;

--
-- Name: FUNCTION repair_desired_state_drift(p_limit integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.repair_desired_state_drift(p_limit integer) IS 'Drift repair for the sweep: paid users (plan with a dedicated app) whose row is missing or says absent get desired_state present, a generation bump, due now, and a drift_detected event. Returns their user ids (at most p_limit). Never marks anything absent: a missing subscription row is not taken as a downgrade.';

--
-- Name: retry_user_fly_apps(text, uuid, text[], text, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.retry_user_fly_apps(p_actor text, p_user_id uuid DEFAULT NULL::uuid, p_statuses text[] DEFAULT NULL::text[], p_reason text DEFAULT NULL::text, p_limit integer DEFAULT 1000) RETURNS SETOF uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  if p_actor is null or p_actor = '' then
    raise exception 'retry_user_fly_apps: actor is required' using errcode = '22004';
  end if;
  if (p_user_id is null) = (p_statuses is null) then
    raise exception 'retry_user_fly_apps: give exactly one of a user id or statuses' using errcode = '22023';
  end if;
  return query
  with picked as (
    select a.id from public.user_fly_apps a
    where (p_user_id is not null and a.user_id = p_user_id)
       or (p_statuses is not null and a.status = any(p_statuses))
    order by a.user_id
    limit greatest(p_limit, 0)
    for update
  ),
  retried as (
    update public.user_fly_apps a set
      (status, retry_count, next_attempt_at) = (select d.* from private.due_now(a.status) d),
      error_message = null,
      updated_at = now()
    from picked p where a.id = p.id
    returning a.id, a.user_id, a.desired_state
  ),
  logged as (
    insert into public.user_fly_app_events (fly_app_id, user_id, event_type, status, metadata)
    select r.id, r.user_id, 'retry_requested', 'info',
           jsonb_build_object('actor', p_actor, 'reason', p_reason, 'desired_state', r.desired_state)
    from retried r
    returning user_id
  )
  select l.user_id from logged l;
end
$$;

ALTER FUNCTION private.retry_user_fly_apps(p_actor text, p_user_id uuid, p_statuses text[], p_reason text, p_limit integer) OWNER TO postgres;

--
-- Name: FUNCTION retry_user_fly_apps(p_actor text, p_user_id uuid, p_statuses text[], p_reason text, p_limit integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.retry_user_fly_apps(p_actor text, p_user_id uuid, p_statuses text[], p_reason text, p_limit integer) IS 'Ops retry: the row of p_user_id, or up to p_limit rows whose status is in p_statuses, become due now with retry_count 0 and no error_message (error/failed go back to pending), each with a retry_requested event naming p_actor. The controller (sync reconcile, kick or sweep) then reconciles them at the rate limits. Returns the user ids.';

--
-- Name: revoke_replaced_user_credential(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.revoke_replaced_user_credential() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_deprovisioned boolean := new.status in ('suspended', 'deleted') and old.status is distinct from new.status;
begin
  if old.credential_jti is null then
    return new;
  end if;
  if v_deprovisioned and new.credential_jti is not distinct from old.credential_jti then
    -- The app is going away: its credential goes with it (a re-upgrade mints a new one: the expiry is gone).
    new.credential_jti := null;
    new.credential_expires_at := null;
    new.credential_key_id := null;
  end if;
  if new.credential_jti is distinct from old.credential_jti then
    insert into private.revoked_user_credentials (jti, user_id, expires_at)
    values (old.credential_jti, old.user_id, coalesce(old.credential_expires_at, now() + interval '1 year'))
    on conflict (jti) do nothing;
    delete from private.revoked_user_credentials where expires_at < now() - interval '1 day';
  end if;
  return new;
end
$$;

ALTER FUNCTION private.revoke_replaced_user_credential() OWNER TO postgres;

--
-- Name: FUNCTION revoke_replaced_user_credential(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.revoke_replaced_user_credential() IS 'Trigger: when a row''s credential_jti is replaced or the app is deprovisioned (status becomes suspended or deleted), the previous jti goes on private.revoked_user_credentials (and expired entries are pruned).';

--
-- Name: save_fly_rollout_cohort(text, uuid[], text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.save_fly_rollout_cohort(p_name text, p_user_ids uuid[], p_actor text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
  v_row public.fly_rollout_cohorts;
begin
  if p_actor is null or btrim(p_actor) = '' then
    perform private._fail_input('actor: required');
  end if;
  if p_name is null or p_name !~ '^[a-z0-9][a-z0-9_-]{0,62}$' then
    perform private._fail_input('name: must be 1-63 lowercase letters, digits, - or _');
  end if;
  if p_user_ids is null or cardinality(p_user_ids) = 0 or cardinality(p_user_ids) > 1000 then
    perform private._fail_input('users: must list 1 to 1000 user ids');
  end if;
  insert into public.fly_rollout_cohorts (name, user_ids, created_by)
  values (p_name, (select array_agg(distinct u order by u) from unnest(p_user_ids) u), p_actor)
  on conflict (name) do update set user_ids = excluded.user_ids, created_by = excluded.created_by,
    updated_at = now()
  returning * into v_row;
  return to_jsonb(v_row);
end
$_$;

ALTER FUNCTION private.save_fly_rollout_cohort(p_name text, p_user_ids uuid[], p_actor text) OWNER TO postgres;

--
-- Name: FUNCTION save_fly_rollout_cohort(p_name text, p_user_ids uuid[], p_actor text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.save_fly_rollout_cohort(p_name text, p_user_ids uuid[], p_actor text) IS 'Saves (or replaces) a named cohort of users a rollout can send first; 22023 naming the field.';

--
-- Name: set_plan_idle_action(text, text, text, text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.set_plan_idle_action(p_tier text, p_idle_action text, p_actor text, p_reason text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_previous text;
  v_due integer := 0;
begin
  if p_actor is null or p_actor = '' then
    raise exception 'set_plan_idle_action: actor is required' using errcode = '22004';
  end if;
  select idle_action into v_previous from public.fly_plans where tier = p_tier and dedicated_app for update;
  if not found then
    raise exception 'no plan with a dedicated app for tier %', p_tier using errcode = 'P0002';
  end if;
  update public.fly_plans set idle_action = p_idle_action, updated_at = now() where tier = p_tier;
  if v_previous is distinct from p_idle_action then
    with due as (
      update public.user_fly_apps a set
        (status, retry_count, next_attempt_at) = (select d.* from private.due_now(a.status) d),
        updated_at = now()
      from public.user_subscriptions s
      where s.user_id = a.user_id and s.tier = p_tier
        and a.desired_state = 'present' and a.status in ('active', 'held')
      returning a.id, a.user_id
    ),
    logged as (
      insert into public.user_fly_app_events (fly_app_id, user_id, event_type, status, metadata)
      select d.id, d.user_id, 'retry_requested', 'info',
             jsonb_build_object('actor', p_actor, 'reason', p_reason,
                                'plan', jsonb_build_object('tier', p_tier, 'idle_action',
                                  jsonb_build_object('from', v_previous, 'to', p_idle_action)))
      from due d
      returning 1
    )
    select count(*) into v_due from logged;
  end if;
  return jsonb_build_object('tier', p_tier, 'previous', v_previous, 'idle_action', p_idle_action,
                            'due_users', v_due);
end
$$;

ALTER FUNCTION private.set_plan_idle_action(p_tier text, p_idle_action text, p_actor text, p_reason text) OWNER TO postgres;

--
-- Name: FUNCTION set_plan_idle_action(p_tier text, p_idle_action text, p_actor text, p_reason text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.set_plan_idle_action(p_tier text, p_idle_action text, p_actor text, p_reason text) IS 'Sets fly_plans.idle_action of a tier with a dedicated app (P0002 otherwise; the table''s checks refuse suspend over 2048 MB) and, when it changed, makes every active or held row of the tier due now with a retry_requested event naming p_actor, p_reason and the change, so reconciles give the machines the new services. Returns {tier, previous, idle_action, due_users}.';

--
-- Name: set_user_fly_app_hold(uuid, boolean, text, text, boolean); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.set_user_fly_app_hold(p_user_id uuid, p_held boolean, p_actor text, p_reason text DEFAULT NULL::text, p_replace boolean DEFAULT false) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_row public.user_fly_apps;
  v_replaced jsonb;
begin
  if p_actor is null or p_actor = '' then
    raise exception 'set_user_fly_app_hold: actor is required' using errcode = '22004';
  end if;
  select * into v_row from public.user_fly_apps a where a.user_id = p_user_id for update;
  if not found then
    raise exception 'no app row for user %', p_user_id using errcode = 'P0002';
  end if;
  if p_held and v_row.desired_state <> 'present' then
    raise exception 'user % has no app to hold (desired state %)', p_user_id, v_row.desired_state
      using errcode = '55000';
  end if;
  if p_held and v_row.held_at is not null then
    if not p_replace then
      raise exception 'user % is already held by % since % (%); release it first or replace the hold',
        p_user_id, v_row.held_by, to_char(v_row.held_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        coalesce('reason: ' || v_row.hold_reason, 'no reason given')
        using errcode = '55000';
    end if;
    v_replaced := jsonb_build_object('held_by', v_row.held_by, 'held_at', v_row.held_at,
                                     'reason', v_row.hold_reason);
  end if;
  update public.user_fly_apps a set
    held_at = case when p_held then now() end,
    held_by = case when p_held then p_actor end,
    hold_reason = case when p_held then left(p_reason, 500) end,
    -- A new desired generation: an attempt in flight then leaves the row due (record_outcome's fence).
    desired_generation = a.desired_generation + 1,
    next_attempt_at = now(),
    updated_at = now()
  where a.id = v_row.id
  returning * into v_row;
  perform private.append_user_fly_app_event(p_user_id,
    case when p_held then 'hold_set' else 'hold_released' end, 'info',
    jsonb_build_object('actor', p_actor, 'reason', p_reason)
      || case when v_replaced is null then '{}'::jsonb else jsonb_build_object('replaced', v_replaced) end,
    null, v_row.id);
  return to_jsonb(v_row);
end
$$;

ALTER FUNCTION private.set_user_fly_app_hold(p_user_id uuid, p_held boolean, p_actor text, p_reason text, p_replace boolean) OWNER TO postgres;

--
-- Name: FUNCTION set_user_fly_app_hold(p_user_id uuid, p_held boolean, p_actor text, p_reason text, p_replace boolean); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.set_user_fly_app_hold(p_user_id uuid, p_held boolean, p_actor text, p_reason text, p_replace boolean) IS 'Ops hold (p_held true: held_at = now(), held_by = p_actor, hold_reason) or release (clears them) of a user''s machine; the row gets a new desired generation, due now (an attempt in flight leaves it due), so the controller stops (hold) or starts (release) the machine, and an event hold_set / hold_released names the actor. Holding a held row raises 55000 naming who holds it, since when and why, unless p_replace: then the hold_set event records the replaced hold under "replaced". Raises P0002 without a row, 55000 when holding a row whose desired state is absent. Returns the row.';

--
-- Name: set_user_fly_app_override(uuid, jsonb, text, text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.set_user_fly_app_override(p_user_id uuid, p_fields jsonb, p_actor text, p_reason text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_unknown text;
  v_old public.user_fly_app_overrides;
  v_new public.user_fly_app_overrides;
  v_app uuid;
begin
  if p_actor is null or btrim(p_actor) = '' then
    raise exception 'an actor is required' using errcode = '22023';
  end if;
  if p_fields is null or jsonb_typeof(p_fields) <> 'object' then
    raise exception 'fields must be an object' using errcode = '22023';
  end if;
  select string_agg(k, ', ' order by k) into v_unknown from jsonb_object_keys(p_fields) k
  where k not in ('cpu_kind', 'cpus', 'memory_mb', 'region', 'image');
  if v_unknown is not null then
    raise exception 'unknown override field(s): %', v_unknown using errcode = '22023';
  end if;
  select * into v_old from public.user_fly_app_overrides o where o.user_id = p_user_id for update;
  if p_fields = '{}'::jsonb then
    delete from public.user_fly_app_overrides o where o.user_id = p_user_id;
  else
    begin
      insert into public.user_fly_app_overrides as o (user_id, cpu_kind, cpus, memory_mb, region, image, reason,
                                                      actor)
      values (p_user_id, p_fields ->> 'cpu_kind', (p_fields ->> 'cpus')::integer,
              (p_fields ->> 'memory_mb')::integer, p_fields ->> 'region', p_fields ->> 'image', p_reason, p_actor)
      on conflict (user_id) do update set
        cpu_kind = excluded.cpu_kind, cpus = excluded.cpus, memory_mb = excluded.memory_mb,
        region = excluded.region, image = excluded.image, reason = excluded.reason, actor = excluded.actor,
        version = o.version + 1, updated_at = now()
      returning * into v_new;
    exception when check_violation or invalid_text_representation or numeric_value_out_of_range then
      raise exception 'invalid override: %', sqlerrm using errcode = '22023';
    end;
  end if;
  -- Applied at once through the controller, like a tier change: a new desired generation, due now with a
  -- clean slate (an attempt in flight then leaves the row due: the generation fence of record_outcome).
  update public.user_fly_apps a set
    desired_generation = a.desired_generation + 1,
    (status, retry_count, next_attempt_at) = (select d.* from private.due_now(a.status) d),
    updated_at = now()
  where a.user_id = p_user_id and a.desired_state = 'present'
  returning a.id into v_app;
  perform private.append_user_fly_app_event(p_user_id,
    case when v_new.user_id is null then 'override_cleared' else 'override_set' end, 'info',
    jsonb_build_object('actor', p_actor, 'reason', p_reason,
      'from', case when v_old.user_id is not null then jsonb_strip_nulls(jsonb_build_object(
        'cpu_kind', v_old.cpu_kind, 'cpus', v_old.cpus, 'memory_mb', v_old.memory_mb, 'region', v_old.region,
        'image', v_old.image)) end,
      'to', case when v_new.user_id is not null then jsonb_strip_nulls(jsonb_build_object(
        'cpu_kind', v_new.cpu_kind, 'cpus', v_new.cpus, 'memory_mb', v_new.memory_mb, 'region', v_new.region,
        'image', v_new.image)) end),
    null, v_app);
  return jsonb_build_object('override', case when v_new.user_id is not null then to_jsonb(v_new) end,
                            'due', v_app is not null);
end
$$;

ALTER FUNCTION private.set_user_fly_app_override(p_user_id uuid, p_fields jsonb, p_actor text, p_reason text) OWNER TO postgres;

--
-- Name: FUNCTION set_user_fly_app_override(p_user_id uuid, p_fields jsonb, p_actor text, p_reason text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.set_user_fly_app_override(p_user_id uuid, p_fields jsonb, p_actor text, p_reason text) IS 'Sets (p_fields: {cpu_kind?, cpus?, memory_mb?, region?, image?}) or clears ({}) a user''s override, with actor and reason; bad values raise 22023 and write nothing. Gives the user''s row a new desired generation, due now (applied at once through the controller; an attempt in flight leaves it due: the generation fence of record_outcome), and appends override_set / override_cleared (actor, reason, from, to). Returns {override (null: cleared), due}.';

--
-- Name: stamp_lease_release(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.stamp_lease_release() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  new.lease_released_at := now();
  new.lease_released_by := old.lease_owner;
  return new;
end
$$;

ALTER FUNCTION private.stamp_lease_release() OWNER TO postgres;

--
-- Name: FUNCTION stamp_lease_release(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.stamp_lease_release() IS 'Trigger: records when and by whom a lease on a user_fly_apps row ended.';

--
-- Name: storage_monthly_cost_usd(integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.storage_monthly_cost_usd(p_volume_gb integer DEFAULT 0) RETURNS numeric
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select round(rootfs.monthly_usd + coalesce(p_volume_gb, 0) * vol.monthly_usd, 2)
  from public.fly_prices rootfs, public.fly_prices vol
  where rootfs.item = 'rootfs_gb' and vol.item = 'volume_gb'
$$;

ALTER FUNCTION private.storage_monthly_cost_usd(p_volume_gb integer) OWNER TO postgres;

--
-- Name: FUNCTION storage_monthly_cost_usd(p_volume_gb integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.storage_monthly_cost_usd(p_volume_gb integer) IS 'Cost of 30 days of a machine that does not run: its root file system (rootfs_gb, 1 GB) and p_volume_gb of volume (volume_gb), from public.fly_prices.';

--
-- Name: take_rate_tokens(text, double precision, integer, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.take_rate_tokens(p_bucket text, p_rate_per_s double precision, p_burst integer, p_tokens integer DEFAULT 1) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION private.take_rate_tokens(p_bucket text, p_rate_per_s double precision, p_burst integer, p_tokens integer) OWNER TO postgres;

--
-- Name: FUNCTION take_rate_tokens(p_bucket text, p_rate_per_s double precision, p_burst integer, p_tokens integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.take_rate_tokens(p_bucket text, p_rate_per_s double precision, p_burst integer, p_tokens integer) IS 'Takes p_tokens from the shared token bucket p_bucket (refilled at p_rate_per_s up to p_burst; a new bucket is full) and returns the milliseconds the caller must wait before using them (0: at once). The tokens are reserved either way, so callers that each wait the returned time never exceed rate * t + burst in any window t, across connections. Atomic (one statement, the bucket row locked).';

--
-- Name: take_sweep_lease(text, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.take_sweep_lease(p_owner text, p_seconds integer) RETURNS TABLE(taken boolean, held_by text, held_since timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  if p_owner is null or p_owner = '' or p_seconds is null or p_seconds < 1 then
    raise exception 'take_sweep_lease: an owner and a positive number of seconds are required'
      using errcode = '22023';
  end if;
  return query
    insert into private.sweep_lease as l (singleton, owner, acquired_at, expires_at)
    values (true, p_owner, now(), now() + make_interval(secs => p_seconds))
    on conflict (singleton) do update
      set owner = excluded.owner, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
      where l.expires_at < now()
    returning true, l.owner, l.acquired_at;
  if not found then
    return query select false, l.owner, l.acquired_at from private.sweep_lease l;
  end if;
end
$$;

ALTER FUNCTION private.take_sweep_lease(p_owner text, p_seconds integer) OWNER TO postgres;

--
-- Name: FUNCTION take_sweep_lease(p_owner text, p_seconds integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.take_sweep_lease(p_owner text, p_seconds integer) IS 'Takes the sweep lease for p_owner for p_seconds when it is free or expired: (taken true, held_by, held_since); else (taken false) with the running sweep''s owner and start.';

--
-- Name: tier_has_app(text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.tier_has_app(p_tier text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select coalesce((select p.dedicated_app from public.fly_plans p where p.tier = p_tier), false)
$$;

ALTER FUNCTION private.tier_has_app(p_tier text) OWNER TO postgres;

--
-- Name: FUNCTION tier_has_app(p_tier text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.tier_has_app(p_tier text) IS 'Whether a tier''s plan comes with a dedicated app (false for an unknown or null tier): the one rule that turns a tier into desired state present or absent.';

--
-- Name: tier_outbox_oldest_age_s(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.tier_outbox_oldest_age_s() RETURNS double precision
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select coalesce(extract(epoch from now() - min(o.queued_at))::double precision, 0) from private.tier_outbox o
$$;

ALTER FUNCTION private.tier_outbox_oldest_age_s() OWNER TO postgres;

--
-- Name: FUNCTION tier_outbox_oldest_age_s(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.tier_outbox_oldest_age_s() IS 'Age in seconds of the oldest tier change still in the outbox (0 when empty). The health sweep alerts when it exceeds its threshold (the drainer is not running or cannot kick). One scan of a small table.';

--
-- Name: transition_fly_rollout(uuid, text, text, text, text); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.transition_fly_rollout(p_rollout_id uuid, p_action text, p_actor text, p_reason text DEFAULT NULL::text, p_error text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_row public.fly_rollouts;
  v_from text;
  v_to text;
  v_direction text;
  v_allowed text[];
  v_open integer;
begin
  if p_actor is null or btrim(p_actor) = '' then
    perform private._fail_input('actor: required');
  end if;
  v_row := private._lock_fly_rollout(p_rollout_id, null);
  v_from := v_row.state;
  v_direction := v_row.direction;
  case p_action
    when 'start' then v_to := 'running'; v_allowed := array['pending'];
    when 'pause' then v_to := 'paused'; v_allowed := array['running'];
    when 'resume' then v_to := 'running'; v_allowed := array['paused', 'halted'];
    when 'abort' then v_to := 'aborted'; v_allowed := array['pending', 'running', 'paused', 'halted'];
    when 'halt' then v_to := 'halted'; v_allowed := array['running'];
    when 'rollback' then
      v_to := 'running'; v_direction := 'rollback';
      v_allowed := array['pending', 'running', 'paused', 'halted', 'completed', 'aborted'];
    when 'complete' then
      v_to := case v_row.direction when 'forward' then 'completed' else 'rolled_back' end;
      v_allowed := array['running'];
    else
      perform private._fail_input(format('action: unknown action %s', coalesce(p_action, 'null')));
  end case;

  -- Idempotent: already there (a rollback that finished counts as done too).
  if (v_row.state = v_to and v_row.direction = v_direction)
     or (p_action = 'rollback' and v_row.state = 'rolled_back')
     or (p_action = 'complete' and v_row.state in ('completed', 'rolled_back')) then
    return jsonb_build_object('changed', false, 'rollout', private._fly_rollout_json(v_row));
  end if;
  if not (v_row.state = any (v_allowed)) then
    raise exception 'cannot % a % rollout', p_action, v_row.state using errcode = '55000';
  end if;

  if p_action = 'complete' then
    select count(*) into v_open from public.fly_rollout_targets t
    where t.rollout_id = p_rollout_id and t.state = any (case v_row.direction
      when 'forward' then array['pending', 'updating']
      else array['healthy', 'failed', 'updating', 'rolling_back'] end);
    if v_open > 0 then
      raise exception 'cannot complete rollout %: % target(s) still open', p_rollout_id, v_open
        using errcode = '55000';
    end if;
  elsif p_action = 'resume' and v_row.state = 'halted' then
    -- Resuming a halted rollout retries its failed targets.
    update public.fly_rollout_targets t set
      state = case t.state when 'failed' then 'pending' else 'failed' end, error = null, updated_at = now()
    where t.rollout_id = p_rollout_id
      and t.state = case v_row.direction when 'forward' then 'failed' else 'rollback_failed' end;
    perform private._count_fly_rollout(p_rollout_id);
  end if;

  update public.fly_rollouts r set
    state = v_to,
    direction = v_direction,
    error = case when p_action = 'halt' then left(p_error, 4000)
                 when p_action in ('resume', 'rollback') then null else r.error end,
    started_at = coalesce(r.started_at, case when v_to = 'running' then now() end),
    finished_at = case when v_to in ('completed', 'aborted', 'rolled_back') then now() end,
    updated_at = now()
  where r.id = p_rollout_id
  returning * into v_row;

  perform private._append_fly_rollout_event(p_rollout_id,
    case p_action
      when 'start' then 'started' when 'pause' then 'paused' when 'resume' then 'resumed'
      when 'abort' then 'aborted' when 'halt' then 'halted' when 'rollback' then 'rollback_started'
      else v_to end,
    p_actor, v_from, v_to, p_reason,
    jsonb_strip_nulls(jsonb_build_object('direction', v_direction, 'error', left(p_error, 4000))));
  return jsonb_build_object('changed', true, 'rollout', private._fly_rollout_json(v_row));
end
$$;

ALTER FUNCTION private.transition_fly_rollout(p_rollout_id uuid, p_action text, p_actor text, p_reason text, p_error text) OWNER TO postgres;

--
-- Name: FUNCTION transition_fly_rollout(p_rollout_id uuid, p_action text, p_actor text, p_reason text, p_error text); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.transition_fly_rollout(p_rollout_id uuid, p_action text, p_actor text, p_reason text, p_error text) IS 'Moves a rollout: start (pending→running), pause (running→paused), resume (paused|halted→running; a halted one retries its failed targets), abort (→aborted), halt (running→halted, with error), rollback (→running in direction rollback), complete (running→completed, or rolled_back in direction rollback; refused while targets are open). Idempotent: {changed: false} when already there; 55000 when the state does not allow the action. Each change is a fly_rollout_events row with the actor.';

--
-- Name: unseen_since(timestamp with time zone, integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.unseen_since(p_since timestamp with time zone, p_limit integer DEFAULT 1000) RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select a.id from public.user_fly_apps a
  where a.desired_state = 'present' and a.status in ('active', 'held') and a.fly_app_name is not null
    and (a.last_observed_at is null or a.last_observed_at < p_since)
  order by a.id
  limit greatest(p_limit, 0)
$$;

ALTER FUNCTION private.unseen_since(p_since timestamp with time zone, p_limit integer) OWNER TO postgres;

--
-- Name: FUNCTION unseen_since(p_since timestamp with time zone, p_limit integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.unseen_since(p_since timestamp with time zone, p_limit integer) IS 'Ids of active or held rows no fleet listing has seen since p_since (a full listing''s start): their machine or app vanished.';

--
-- Name: user_fly_app_idle_since(uuid); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.user_fly_app_idle_since(p_user_id uuid) RETURNS timestamp with time zone
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select max(e.created_at)
  from public.user_fly_apps a
  join public.user_fly_app_events e on e.user_id = a.user_id
  where a.user_id = p_user_id and a.health_status = 'idle'
    and e.event_type = 'health_changed' and e.metadata ->> 'to' = 'idle'
$$;

ALTER FUNCTION private.user_fly_app_idle_since(p_user_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION user_fly_app_idle_since(p_user_id uuid); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.user_fly_app_idle_since(p_user_id uuid) IS 'When the user''s app became idle (its last health_changed event to idle), or null when its health is not idle: the "idle since" of the status, the ops CLI and the console.';

--
-- Name: user_fly_app_override(uuid); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.user_fly_app_override(p_user_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select jsonb_strip_nulls(jsonb_build_object(
    'version', o.version, 'cpu_kind', o.cpu_kind, 'cpus', o.cpus, 'memory_mb', o.memory_mb, 'region', o.region,
    'image', o.image, 'reason', o.reason, 'actor', o.actor, 'updated_at', o.updated_at))
  from public.user_fly_app_overrides o where o.user_id = p_user_id
$$;

ALTER FUNCTION private.user_fly_app_override(p_user_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION user_fly_app_override(p_user_id uuid); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.user_fly_app_override(p_user_id uuid) IS 'The user''s ops override as {version, cpu_kind?, cpus?, memory_mb?, region?, image?, reason?, actor, updated_at}, or null when there is none.';

--
-- Name: user_fly_app_patch_columns(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.user_fly_app_patch_columns() RETURNS text[]
    LANGUAGE sql IMMUTABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select array[
    'status', 'fly_app_name', 'fly_org_slug', 'region', 'docker_image', 'cpu_kind', 'cpu_count', 'memory_mb',
    'machine_id', 'image_digest', 'secrets_version', 'secrets_digest', 'deployed_at', 'deleted_at',
    'health_status', 'last_health_check_at', 'monthly_cost_estimate_usd', 'error_message', 'retry_count',
    'next_attempt_at', 'observed_generation', 'drift', 'last_machine_state', 'last_observed_at',
    'delete_after', 'volume_id', 'credential_expires_at', 'credential_key_id', 'applied_tier',
    'applied_plan_version', 'applied_override_version', 'credential_jti'
  ]::text[]
$$;

ALTER FUNCTION private.user_fly_app_patch_columns() OWNER TO postgres;

--
-- Name: FUNCTION user_fly_app_patch_columns(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.user_fly_app_patch_columns() IS 'The columns of user_fly_apps an outcome or an observation may set (everything else is desired state, lease or identity, written only by their own primitives).';

--
-- Name: user_fly_apps_set_cost_estimate(); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.user_fly_apps_set_cost_estimate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  v_volume_gb integer := 0;
begin
  if new.desired_state <> 'present' or new.cpu_count is null or new.memory_mb is null then
    return new;
  end if;
  if new.held_at is not null or new.last_machine_state in ('stopped', 'suspended') then
    if new.volume_id is not null then
      select coalesce(p.volume_size_gb, 0) into v_volume_gb
      from public.user_subscriptions s join public.fly_plans p on p.tier = s.tier
      where s.user_id = new.user_id;
    end if;
    new.monthly_cost_estimate_usd := private.storage_monthly_cost_usd(coalesce(v_volume_gb, 0));
  else
    new.monthly_cost_estimate_usd :=
      private.machine_monthly_cost_usd(coalesce(new.cpu_kind, 'shared'), new.cpu_count, new.memory_mb);
  end if;
  return new;
end
$$;

ALTER FUNCTION private.user_fly_apps_set_cost_estimate() OWNER TO postgres;

--
-- Name: FUNCTION user_fly_apps_set_cost_estimate(); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.user_fly_apps_set_cost_estimate() IS 'Trigger: the estimate of a row whose app is wanted and whose size is recorded: storage only (private.storage_monthly_cost_usd, the plan''s volume when the row has one) while held or while the machine is stopped or suspended; the running price of its size (private.machine_monthly_cost_usd) otherwise. Rows whose app is not wanted keep the estimate the engine records (storage in a grace period, 0 once deleted).';

--
-- Name: users_with_unrecorded_tier(integer); Type: FUNCTION; Schema: private; Owner: postgres
--

CREATE FUNCTION private.users_with_unrecorded_tier(p_limit integer) RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  with paid as (select p.tier from public.fly_plans p where private.tier_has_app(p.tier))
  (select s.user_id
   from public.user_subscriptions s
   left join public.user_fly_apps a on a.user_id = s.user_id
   where case when a.id is null then s.tier in (select tier from paid)
              else a.desired_tier is distinct from s.tier end
   union all
   select a.user_id
   from public.user_fly_apps a
   where a.desired_tier is not null
     and not exists (select 1 from public.user_subscriptions s where s.user_id = a.user_id))
  limit greatest(p_limit, 0)
$$;

ALTER FUNCTION private.users_with_unrecorded_tier(p_limit integer) OWNER TO postgres;

--
-- Name: FUNCTION users_with_unrecorded_tier(p_limit integer); Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON FUNCTION private.users_with_unrecorded_tier(p_limit integer) IS 'Users (at most p_limit) whose current tier is not the one their desired state was recorded for: a row whose desired_tier differs from the subscription''s tier, a paid subscription without a row, a row whose subscription is gone. One pass over user_subscriptions and user_fly_apps; run only for bulk markers.';

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: cron_job_schedules; Type: TABLE; Schema: private; Owner: postgres
--

CREATE TABLE private.cron_job_schedules (
    jobname text NOT NULL,
    scheduled_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE private.cron_job_schedules OWNER TO postgres;

--
-- Name: TABLE cron_job_schedules; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON TABLE private.cron_job_schedules IS 'When each pg_cron job of ours was first scheduled in this database (pg_cron does not record it): the doctor''s "scheduled, not run yet" window starts at the later of this and the server start.';

--
-- Name: fly_rate_buckets; Type: TABLE; Schema: private; Owner: postgres
--

CREATE UNLOGGED TABLE private.fly_rate_buckets (
    bucket text NOT NULL,
    tokens double precision NOT NULL,
    refilled_at timestamp with time zone NOT NULL,
    CONSTRAINT fly_rate_buckets_bucket_check CHECK ((bucket <> ''::text))
)
WITH (fillfactor='50');

ALTER TABLE private.fly_rate_buckets OWNER TO postgres;

--
-- Name: TABLE fly_rate_buckets; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON TABLE private.fly_rate_buckets IS 'Token buckets shared by every function instance (private.take_rate_tokens). Unlogged: lost on a crash, which only refills every bucket.';

--
-- Name: machine_last_observations; Type: TABLE; Schema: private; Owner: postgres
--

CREATE TABLE private.machine_last_observations (
    machine_id text NOT NULL,
    user_id uuid NOT NULL,
    state text NOT NULL,
    observed_at timestamp with time zone NOT NULL
);

ALTER TABLE private.machine_last_observations OWNER TO postgres;

--
-- Name: TABLE machine_last_observations; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON TABLE private.machine_last_observations IS 'Last observed state per machine: where private.record_machine_observations resumes.';

--
-- Name: revoked_user_credentials; Type: TABLE; Schema: private; Owner: postgres
--

CREATE TABLE private.revoked_user_credentials (
    jti text NOT NULL,
    user_id uuid NOT NULL,
    revoked_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

ALTER TABLE private.revoked_user_credentials OWNER TO postgres;

--
-- Name: TABLE revoked_user_credentials; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON TABLE private.revoked_user_credentials IS 'Denylist of revoked user app credentials by jti, until they would have expired (pruned afterwards).';

--
-- Name: sweep_lease; Type: TABLE; Schema: private; Owner: postgres
--

CREATE TABLE private.sweep_lease (
    singleton boolean DEFAULT true NOT NULL,
    owner text NOT NULL,
    acquired_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    CONSTRAINT sweep_lease_singleton_check CHECK (singleton)
);

ALTER TABLE private.sweep_lease OWNER TO postgres;

--
-- Name: TABLE sweep_lease; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON TABLE private.sweep_lease IS 'The running sweep''s lease (at most one row): its owner (one attempt of check-fly-apps-health), since when, and until when it holds without being given back (the sweep budget plus a margin, so a crashed sweep frees it).';

--
-- Name: tier_outbox; Type: TABLE; Schema: private; Owner: postgres
--

CREATE TABLE private.tier_outbox (
    user_id uuid,
    queued_at timestamp with time zone DEFAULT now() NOT NULL
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_vacuum_scale_factor='0');

ALTER TABLE private.tier_outbox OWNER TO postgres;

--
-- Name: TABLE tier_outbox; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON TABLE private.tier_outbox IS 'Tier changes not yet turned into desired state: one row per changed subscription row, appended by the tier triggers in the user''s transaction, consumed by private.drain_tier_outbox(). No index on purpose (each index would be one more write per change); the drainer reads it by sequential scan and deletes by ctid, and it stays small because it is drained every second.';

--
-- Name: COLUMN tier_outbox.user_id; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON COLUMN private.tier_outbox.user_id IS 'The user whose tier changed; null for a bulk marker: a transaction changed more tiers than the trigger queues one by one, and the drainer works off private.users_with_unrecorded_tier() until it is empty.';

--
-- Name: user_fly_apps_archive; Type: TABLE; Schema: private; Owner: postgres
--

CREATE TABLE private.user_fly_apps_archive (
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    kept_id uuid NOT NULL,
    row_data jsonb NOT NULL,
    archived_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE private.user_fly_apps_archive OWNER TO postgres;

--
-- Name: TABLE user_fly_apps_archive; Type: COMMENT; Schema: private; Owner: postgres
--

COMMENT ON TABLE private.user_fly_apps_archive IS 'Duplicate per-user rows of the seed system, archived when the one-row-per-user rule was introduced. Their fly_app_name may still exist in Fly: the health sweep reports such apps as orphans.';

--
-- Name: cron_job_schedules cron_job_schedules_pkey; Type: CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.cron_job_schedules
    ADD CONSTRAINT cron_job_schedules_pkey PRIMARY KEY (jobname);

--
-- Name: fly_rate_buckets fly_rate_buckets_pkey; Type: CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.fly_rate_buckets
    ADD CONSTRAINT fly_rate_buckets_pkey PRIMARY KEY (bucket);

--
-- Name: machine_last_observations machine_last_observations_pkey; Type: CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.machine_last_observations
    ADD CONSTRAINT machine_last_observations_pkey PRIMARY KEY (machine_id);

--
-- Name: revoked_user_credentials revoked_user_credentials_pkey; Type: CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.revoked_user_credentials
    ADD CONSTRAINT revoked_user_credentials_pkey PRIMARY KEY (jti);

--
-- Name: sweep_lease sweep_lease_pkey; Type: CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.sweep_lease
    ADD CONSTRAINT sweep_lease_pkey PRIMARY KEY (singleton);

--
-- Name: user_fly_apps_archive user_fly_apps_archive_pkey; Type: CONSTRAINT; Schema: private; Owner: postgres
--

ALTER TABLE ONLY private.user_fly_apps_archive
    ADD CONSTRAINT user_fly_apps_archive_pkey PRIMARY KEY (id);

--
-- Name: revoked_user_credentials_expires_at_idx; Type: INDEX; Schema: private; Owner: postgres
--

CREATE INDEX revoked_user_credentials_expires_at_idx ON private.revoked_user_credentials USING btree (expires_at);

--
-- Name: fly_rate_buckets; Type: ROW SECURITY; Schema: private; Owner: postgres
--

ALTER TABLE private.fly_rate_buckets ENABLE ROW LEVEL SECURITY;

--
-- Name: machine_last_observations; Type: ROW SECURITY; Schema: private; Owner: postgres
--

ALTER TABLE private.machine_last_observations ENABLE ROW LEVEL SECURITY;

--
-- Name: revoked_user_credentials; Type: ROW SECURITY; Schema: private; Owner: postgres
--

ALTER TABLE private.revoked_user_credentials ENABLE ROW LEVEL SECURITY;

--
-- Name: sweep_lease; Type: ROW SECURITY; Schema: private; Owner: postgres
--

ALTER TABLE private.sweep_lease ENABLE ROW LEVEL SECURITY;

--
-- Name: tier_outbox; Type: ROW SECURITY; Schema: private; Owner: postgres
--

ALTER TABLE private.tier_outbox ENABLE ROW LEVEL SECURITY;

--
-- Name: user_fly_apps_archive; Type: ROW SECURITY; Schema: private; Owner: postgres
--

ALTER TABLE private.user_fly_apps_archive ENABLE ROW LEVEL SECURITY;

--
-- Name: FUNCTION _append_events(p_user_id uuid, p_fly_app_id uuid, p_events jsonb); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private._append_events(p_user_id uuid, p_fly_app_id uuid, p_events jsonb) FROM PUBLIC;

--
-- Name: FUNCTION _append_fly_rollout_event(p_rollout_id uuid, p_event_type text, p_actor text, p_from text, p_to text, p_reason text, p_metadata jsonb); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private._append_fly_rollout_event(p_rollout_id uuid, p_event_type text, p_actor text, p_from text, p_to text, p_reason text, p_metadata jsonb) FROM PUBLIC;

--
-- Name: FUNCTION _apply_desired_state(p_user_id uuid, p_tier text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private._apply_desired_state(p_user_id uuid, p_tier text) FROM PUBLIC;

--
-- Name: FUNCTION _apply_patch(p_app_id uuid, p_patch jsonb); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private._apply_patch(p_app_id uuid, p_patch jsonb) FROM PUBLIC;

--
-- Name: FUNCTION _check_fly_rollout_target(p_target jsonb); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private._check_fly_rollout_target(p_target jsonb) FROM PUBLIC;

--
-- Name: FUNCTION _count_fly_rollout(p_rollout_id uuid); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private._count_fly_rollout(p_rollout_id uuid) FROM PUBLIC;

--
-- Name: FUNCTION _fail_input(p_message text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private._fail_input(p_message text) FROM PUBLIC;

--
-- Name: FUNCTION _fly_rollout_json(p_rollout public.fly_rollouts); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private._fly_rollout_json(p_rollout public.fly_rollouts) FROM PUBLIC;

--
-- Name: FUNCTION _lease_rows(p_ids uuid[], p_owner text, p_lease_seconds integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private._lease_rows(p_ids uuid[], p_owner text, p_lease_seconds integer) FROM PUBLIC;

--
-- Name: FUNCTION _lock_fly_rollout(p_rollout_id uuid, p_owner text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private._lock_fly_rollout(p_rollout_id uuid, p_owner text) FROM PUBLIC;

--
-- Name: FUNCTION _lock_leased(p_app_id uuid, p_owner text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private._lock_leased(p_app_id uuid, p_owner text) FROM PUBLIC;

--
-- Name: FUNCTION _queue_function_post(p_base_url text, p_secret text, p_function text, p_body jsonb, p_timeout_milliseconds integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private._queue_function_post(p_base_url text, p_secret text, p_function text, p_body jsonb, p_timeout_milliseconds integer) FROM PUBLIC;

--
-- Name: FUNCTION _request_int(p_request jsonb, p_field text, p_default integer, p_min integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private._request_int(p_request jsonb, p_field text, p_default integer, p_min integer) FROM PUBLIC;

--
-- Name: FUNCTION adopt_late_fly_rollout_targets(p_rollout_id uuid, p_owner text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.adopt_late_fly_rollout_targets(p_rollout_id uuid, p_owner text) FROM PUBLIC;

--
-- Name: FUNCTION append_user_fly_app_event(p_user_id uuid, p_event_type text, p_status text, p_metadata jsonb, p_error_details text, p_fly_app_id uuid); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.append_user_fly_app_event(p_user_id uuid, p_event_type text, p_status text, p_metadata jsonb, p_error_details text, p_fly_app_id uuid) FROM PUBLIC;

--
-- Name: FUNCTION claim_due_user_fly_apps(p_owner text, p_limit integer, p_lease_seconds integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.claim_due_user_fly_apps(p_owner text, p_limit integer, p_lease_seconds integer) FROM PUBLIC;

--
-- Name: FUNCTION claim_fly_rollout_targets(p_rollout_id uuid, p_owner text, p_limit integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.claim_fly_rollout_targets(p_rollout_id uuid, p_owner text, p_limit integer) FROM PUBLIC;

--
-- Name: FUNCTION claim_user_fly_app(p_user_id uuid, p_owner text, p_lease_seconds integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.claim_user_fly_app(p_user_id uuid, p_owner text, p_lease_seconds integer) FROM PUBLIC;

--
-- Name: FUNCTION claim_user_fly_apps(p_ids uuid[], p_owner text, p_lease_seconds integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.claim_user_fly_apps(p_ids uuid[], p_owner text, p_lease_seconds integer) FROM PUBLIC;

--
-- Name: FUNCTION create_fly_rollout(p_request jsonb, p_actor text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.create_fly_rollout(p_request jsonb, p_actor text) FROM PUBLIC;

--
-- Name: FUNCTION drain_tier_outbox(p_limit integer, p_kick boolean); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.drain_tier_outbox(p_limit integer, p_kick boolean) FROM PUBLIC;

--
-- Name: FUNCTION due_now(p_status text, p_reactivate boolean, OUT status text, OUT retry_count integer, OUT next_attempt_at timestamp with time zone); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.due_now(p_status text, p_reactivate boolean, OUT status text, OUT retry_count integer, OUT next_attempt_at timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION flag_state_contradictions(p_live_ids uuid[], p_limit integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.flag_state_contradictions(p_live_ids uuid[], p_limit integer) FROM PUBLIC;

--
-- Name: FUNCTION fly_fleet_versions(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.fly_fleet_versions() FROM PUBLIC;

--
-- Name: FUNCTION fly_plans_bump_version(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.fly_plans_bump_version() FROM PUBLIC;

--
-- Name: FUNCTION fly_plans_set_cost_estimate(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.fly_plans_set_cost_estimate() FROM PUBLIC;

--
-- Name: FUNCTION fly_prices_changed(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.fly_prices_changed() FROM PUBLIC;

--
-- Name: FUNCTION fly_rollout_bake(p_rollout_id uuid, p_owner text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.fly_rollout_bake(p_rollout_id uuid, p_owner text) FROM PUBLIC;

--
-- Name: FUNCTION fly_rollout_bucket(p_user_id uuid); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.fly_rollout_bucket(p_user_id uuid) FROM PUBLIC;

--
-- Name: FUNCTION fly_rollout_record_in_plans(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.fly_rollout_record_in_plans() FROM PUBLIC;

--
-- Name: FUNCTION fly_rollout_spec_for_user(p_user_id uuid); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.fly_rollout_spec_for_user(p_user_id uuid) FROM PUBLIC;

--
-- Name: FUNCTION fly_rollout_status(p_rollout_id uuid, p_events integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.fly_rollout_status(p_rollout_id uuid, p_events integer) FROM PUBLIC;

--
-- Name: FUNCTION free_fly_rollout_lease(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.free_fly_rollout_lease() FROM PUBLIC;

--
-- Name: FUNCTION function_endpoint(OUT base_url text, OUT secret text, OUT problem text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.function_endpoint(OUT base_url text, OUT secret text, OUT problem text) FROM PUBLIC;

--
-- Name: FUNCTION get_desired_spec(p_user_id uuid); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.get_desired_spec(p_user_id uuid) FROM PUBLIC;

--
-- Name: FUNCTION has_image_override(p_user_id uuid); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.has_image_override(p_user_id uuid) FROM PUBLIC;

--
-- Name: FUNCTION invoke_health_check(p_body jsonb); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.invoke_health_check(p_body jsonb) FROM PUBLIC;

--
-- Name: FUNCTION lease_fly_rollouts(p_owner text, p_lease_seconds integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.lease_fly_rollouts(p_owner text, p_lease_seconds integer) FROM PUBLIC;

--
-- Name: FUNCTION machine_monthly_cost_usd(p_cpu_kind text, p_cpus integer, p_memory_mb integer, p_dedicated_ipv4 integer, p_volume_gb integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.machine_monthly_cost_usd(p_cpu_kind text, p_cpus integer, p_memory_mb integer, p_dedicated_ipv4 integer, p_volume_gb integer) FROM PUBLIC;

--
-- Name: FUNCTION make_expired_kept_volumes_due(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.make_expired_kept_volumes_due() FROM PUBLIC;

--
-- Name: FUNCTION on_user_tier_change(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.on_user_tier_change() FROM PUBLIC;

--
-- Name: FUNCTION ops_doctor_report(p_admin_secret_sha256 text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.ops_doctor_report(p_admin_secret_sha256 text) FROM PUBLIC;

--
-- Name: FUNCTION pin_fly_rollout_digest(p_rollout_id uuid, p_digest text, p_pinned_image text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.pin_fly_rollout_digest(p_rollout_id uuid, p_digest text, p_pinned_image text) FROM PUBLIC;

--
-- Name: FUNCTION post_to_function(p_function text, p_body jsonb, p_timeout_milliseconds integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.post_to_function(p_function text, p_body jsonb, p_timeout_milliseconds integer) FROM PUBLIC;

--
-- Name: FUNCTION record_fleet_states(p_states jsonb); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.record_fleet_states(p_states jsonb) FROM PUBLIC;

--
-- Name: FUNCTION record_fly_rollout_target(p_rollout_id uuid, p_owner text, p_user_id uuid, p_outcome text, p_image_digest text, p_error text, p_details jsonb); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.record_fly_rollout_target(p_rollout_id uuid, p_owner text, p_user_id uuid, p_outcome text, p_image_digest text, p_error text, p_details jsonb) FROM PUBLIC;

--
-- Name: FUNCTION record_machine_observations(p_observations jsonb, p_max_gap_seconds integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.record_machine_observations(p_observations jsonb, p_max_gap_seconds integer) FROM PUBLIC;

--
-- Name: FUNCTION record_observations(p_owner text, p_items jsonb); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.record_observations(p_owner text, p_items jsonb) FROM PUBLIC;

--
-- Name: FUNCTION record_outcome(p_app_id uuid, p_owner text, p_generation bigint, p_patch jsonb, p_events jsonb, p_release boolean); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.record_outcome(p_app_id uuid, p_owner text, p_generation bigint, p_patch jsonb, p_events jsonb, p_release boolean) FROM PUBLIC;

--
-- Name: FUNCTION refresh_cost_estimates(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.refresh_cost_estimates() FROM PUBLIC;

--
-- Name: FUNCTION reject_event_change(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.reject_event_change() FROM PUBLIC;

--
-- Name: FUNCTION reject_fly_rollout_event_change(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.reject_fly_rollout_event_change() FROM PUBLIC;

--
-- Name: FUNCTION release_fly_rollout(p_rollout_id uuid, p_owner text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.release_fly_rollout(p_rollout_id uuid, p_owner text) FROM PUBLIC;

--
-- Name: FUNCTION release_rolled_out_image_overrides(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.release_rolled_out_image_overrides() FROM PUBLIC;

--
-- Name: FUNCTION release_sweep_lease(p_owner text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.release_sweep_lease(p_owner text) FROM PUBLIC;

--
-- Name: FUNCTION release_user_fly_app(p_app_id uuid, p_owner text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.release_user_fly_app(p_app_id uuid, p_owner text) FROM PUBLIC;

--
-- Name: FUNCTION renew_user_fly_app_lease(p_app_id uuid, p_owner text, p_lease_seconds integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.renew_user_fly_app_lease(p_app_id uuid, p_owner text, p_lease_seconds integer) FROM PUBLIC;

--
-- Name: FUNCTION repair_desired_state_drift(p_limit integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.repair_desired_state_drift(p_limit integer) FROM PUBLIC;

--
-- Name: FUNCTION retry_user_fly_apps(p_actor text, p_user_id uuid, p_statuses text[], p_reason text, p_limit integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.retry_user_fly_apps(p_actor text, p_user_id uuid, p_statuses text[], p_reason text, p_limit integer) FROM PUBLIC;

--
-- Name: FUNCTION revoke_replaced_user_credential(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.revoke_replaced_user_credential() FROM PUBLIC;

--
-- Name: FUNCTION save_fly_rollout_cohort(p_name text, p_user_ids uuid[], p_actor text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.save_fly_rollout_cohort(p_name text, p_user_ids uuid[], p_actor text) FROM PUBLIC;

--
-- Name: FUNCTION set_plan_idle_action(p_tier text, p_idle_action text, p_actor text, p_reason text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.set_plan_idle_action(p_tier text, p_idle_action text, p_actor text, p_reason text) FROM PUBLIC;

--
-- Name: FUNCTION set_user_fly_app_hold(p_user_id uuid, p_held boolean, p_actor text, p_reason text, p_replace boolean); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.set_user_fly_app_hold(p_user_id uuid, p_held boolean, p_actor text, p_reason text, p_replace boolean) FROM PUBLIC;

--
-- Name: FUNCTION set_user_fly_app_override(p_user_id uuid, p_fields jsonb, p_actor text, p_reason text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.set_user_fly_app_override(p_user_id uuid, p_fields jsonb, p_actor text, p_reason text) FROM PUBLIC;

--
-- Name: FUNCTION stamp_lease_release(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.stamp_lease_release() FROM PUBLIC;

--
-- Name: FUNCTION storage_monthly_cost_usd(p_volume_gb integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.storage_monthly_cost_usd(p_volume_gb integer) FROM PUBLIC;

--
-- Name: FUNCTION take_rate_tokens(p_bucket text, p_rate_per_s double precision, p_burst integer, p_tokens integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.take_rate_tokens(p_bucket text, p_rate_per_s double precision, p_burst integer, p_tokens integer) FROM PUBLIC;

--
-- Name: FUNCTION take_sweep_lease(p_owner text, p_seconds integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.take_sweep_lease(p_owner text, p_seconds integer) FROM PUBLIC;

--
-- Name: FUNCTION tier_has_app(p_tier text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.tier_has_app(p_tier text) FROM PUBLIC;

--
-- Name: FUNCTION tier_outbox_oldest_age_s(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.tier_outbox_oldest_age_s() FROM PUBLIC;

--
-- Name: FUNCTION transition_fly_rollout(p_rollout_id uuid, p_action text, p_actor text, p_reason text, p_error text); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.transition_fly_rollout(p_rollout_id uuid, p_action text, p_actor text, p_reason text, p_error text) FROM PUBLIC;

--
-- Name: FUNCTION unseen_since(p_since timestamp with time zone, p_limit integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.unseen_since(p_since timestamp with time zone, p_limit integer) FROM PUBLIC;

--
-- Name: FUNCTION user_fly_app_idle_since(p_user_id uuid); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.user_fly_app_idle_since(p_user_id uuid) FROM PUBLIC;

--
-- Name: FUNCTION user_fly_app_override(p_user_id uuid); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.user_fly_app_override(p_user_id uuid) FROM PUBLIC;

--
-- Name: FUNCTION user_fly_app_patch_columns(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.user_fly_app_patch_columns() FROM PUBLIC;

--
-- Name: FUNCTION user_fly_apps_set_cost_estimate(); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.user_fly_apps_set_cost_estimate() FROM PUBLIC;

--
-- Name: FUNCTION users_with_unrecorded_tier(p_limit integer); Type: ACL; Schema: private; Owner: postgres
--

REVOKE ALL ON FUNCTION private.users_with_unrecorded_tier(p_limit integer) FROM PUBLIC;

--
-- PostgreSQL database dump complete
--
