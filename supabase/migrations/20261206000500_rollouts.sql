-- Fleet rollouts: a durable record of an image and/or plan change going out to the users' machines in
-- batches (canaries first), with its per-user progress, so that progress is observable at any moment and a
-- function restart resumes where the last one stopped.
--
-- Storage primitives only; the rollout driver (supabase/functions/_shared/reconcile/rollout.ts) decides
-- when to halt, complete or pin:
--   * private.create_fly_rollout(request, actor): validates, snapshots each target's previous spec, batches;
--   * private.transition_fly_rollout(id, action, actor, reason, error): start, pause, resume, abort, rollback,
--     halt, complete; idempotent; every change is a fly_rollout_events row with its actor;
--   * private.lease_fly_rollouts / release_fly_rollout: one driver per rollout at a time;
--   * private.claim_fly_rollout_targets / record_fly_rollout_target: next targets of the current batch and
--     their outcomes (counters recomputed, one user_fly_app_events row per machine);
--   * private.pin_fly_rollout_digest: the first writer's digest wins;
--   * private.fly_rollout_spec_for_user: what the controller should apply to a user a rollout covers.
--
-- Errors callers map to HTTP: 22023 bad input (the message starts with the field), 23505 another active
-- rollout for an overlapping scope, 55000 an action the current state does not allow, P0002 no such rollout,
-- and 55000 lease_not_held (hint says so) when another driver holds the rollout.

-- ---------------------------------------------------------------------------------------------------------
-- Append-only events.

create or replace function private.reject_fly_rollout_event_change() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  raise exception 'fly_rollout_events is append-only (% refused)', tg_op using errcode = '42501';
end
$$;
comment on function private.reject_fly_rollout_event_change() is
  'Trigger: refuses UPDATE and DELETE on fly_rollout_events (append-only).';

drop trigger if exists fly_rollout_events_append_only on public.fly_rollout_events;

create trigger fly_rollout_events_append_only
  before update or delete on public.fly_rollout_events
  for each row execute function private.reject_fly_rollout_event_change();

-- ---------------------------------------------------------------------------------------------------------
-- Internal helpers.

-- The rollout as callers read it.
create or replace function private._fly_rollout_json(p_rollout public.fly_rollouts)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select to_jsonb(p_rollout) - 'lease_owner' - 'lease_expires_at'
$$;

create or replace function private._append_fly_rollout_event(
  p_rollout_id uuid, p_event_type text, p_actor text, p_from text, p_to text, p_reason text,
  p_metadata jsonb default '{}'::jsonb
) returns void
language sql
security definer
set search_path = ''
as $$
  insert into public.fly_rollout_events (rollout_id, event_type, actor, from_state, to_state, reason, metadata)
  values (p_rollout_id, p_event_type, p_actor, p_from, p_to, p_reason, coalesce(p_metadata, '{}'::jsonb))
$$;

create or replace function private._fail_input(p_message text) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  raise exception '%', p_message using errcode = '22023';
end
$$;

-- Validates a target spec; raises 22023 naming the field.
create or replace function private._check_fly_rollout_target(p_target jsonb) returns void
language plpgsql
security definer
set search_path = ''
as $$
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
$$;

-- An optional integer field of the request, within bounds; raises 22023 naming it.
create or replace function private._request_int(p_request jsonb, p_field text, p_default integer, p_min integer)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
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
$$;

-- Locks the rollout and raises 55000 lease_not_held unless p_owner holds its lease.
create or replace function private._lock_fly_rollout(p_rollout_id uuid, p_owner text)
returns public.fly_rollouts
language plpgsql
security definer
set search_path = ''
as $$
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

-- Recomputes the counters from the targets.
create or replace function private._count_fly_rollout(p_rollout_id uuid)
returns public.fly_rollouts
language sql
security definer
set search_path = ''
as $$
  update public.fly_rollouts r set
    total = c.total, updated = c.updated, healthy = c.healthy, failed = c.failed,
    rolled_back = c.rolled_back, rollback_failed = c.rollback_failed, canaries_failed = c.canaries_failed,
    canaries_open = c.canaries_open,
    updated_at = now()
  from (
    select count(*)::integer as total,
           count(*) filter (where t.state in ('healthy', 'failed'))::integer as updated,
           count(*) filter (where t.state = 'healthy')::integer as healthy,
           count(*) filter (where t.state = 'failed')::integer as failed,
           count(*) filter (where t.state = 'rolled_back')::integer as rolled_back,
           count(*) filter (where t.state = 'rollback_failed')::integer as rollback_failed,
           count(*) filter (where t.batch = 0 and t.state = 'failed')::integer as canaries_failed,
           count(*) filter (where t.batch = 0 and t.state in ('pending', 'updating'))::integer as canaries_open
    from public.fly_rollout_targets t where t.rollout_id = p_rollout_id
  ) c
  where r.id = p_rollout_id
  returning r.*
$$;

-- Rollouts and held users (a rollout used to fail every held user's target at the health gate: a held machine
-- stays stopped, so one held user halted a rollout with the default max_failures 0).
--
--   * Canaries are drawn from the users whose machine runs (status active, not held); held and not yet
--     provisioned users go into the later batches. private.create_fly_rollout is replaced for that one
--     ordering; nothing else in it changes.
--   * The held user's target itself is the controller's business (rollout_apply.ts): the machine gets the
--     rollout's config and stays stopped, and the target counts as applied without the health gate.

create or replace function private.create_fly_rollout(p_request jsonb, p_actor text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_tier text;
  v_unknown text;
  v_canary integer;
  v_batch integer;
  v_max_unavailable numeric;
  v_total integer;
  v_row public.fly_rollouts;
  v_start boolean;
begin
  if p_actor is null or btrim(p_actor) = '' then
    perform private._fail_input('actor: who starts the rollout is required');
  end if;
  if p_request is null or jsonb_typeof(p_request) <> 'object' then
    perform private._fail_input('request: must be an object');
  end if;
  select string_agg(k, ', ') into v_unknown from jsonb_object_keys(p_request) k
  where k not in ('target', 'tier', 'canary_count', 'batch_size', 'max_unavailable', 'health_timeout_s',
                  'max_failures', 'reason', 'start');
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
  elsif v_batch is null then
    -- Neither given: fly deploy's default rolling strategy (a third of the machines at a time).
    v_max_unavailable := 0.33;
  end if;

  -- One creator at a time decides about overlapping scopes.
  perform pg_advisory_xact_lock(hashtext('public.fly_rollouts:create'));
  if exists (select 1 from public.fly_rollouts r
             where r.state in ('pending', 'running', 'paused', 'halted')
               and (r.tier is null or v_tier is null or r.tier = v_tier)) then
    raise exception 'scope: a rollout is already active for %', coalesce('tier ' || v_tier, 'all tiers')
      using errcode = '23505';
  end if;

  insert into public.fly_rollouts (tier, target, canary_count, batch_size, max_unavailable, health_timeout_s,
                                   max_failures, created_by, reason, previous_spec)
  values (v_tier, p_request -> 'target', v_canary, coalesce(v_batch, 1), v_max_unavailable,
          private._request_int(p_request, 'health_timeout_s', 300, 1),
          private._request_int(p_request, 'max_failures', 0, 0), p_actor, p_request ->> 'reason',
          coalesce((select jsonb_object_agg(p.tier, jsonb_strip_nulls(jsonb_build_object(
                      'region', p.region, 'cpu_kind', p.cpu_kind, 'cpus', p.cpus, 'memory_mb', p.memory_mb,
                      'image', p.image)))
                    from public.fly_plans p where p.dedicated_app and (v_tier is null or p.tier = v_tier)),
                   '{}'::jsonb))
  returning * into v_row;

  -- The target set: every user of the scope who should have an app, canaries first, then batches.
  insert into public.fly_rollout_targets (rollout_id, user_id, batch, previous)
  select v_row.id, a.user_id, 0, jsonb_strip_nulls(jsonb_build_object(
           'image', a.docker_image, 'digest', a.image_digest, 'region', a.region, 'cpu_kind', a.cpu_kind,
           'cpus', a.cpu_count, 'memory_mb', a.memory_mb))
  from public.user_fly_apps a
  join public.user_subscriptions s on s.user_id = a.user_id
  join public.fly_plans p on p.tier = s.tier and p.dedicated_app
  where a.desired_state = 'present' and (v_tier is null or s.tier = v_tier);
  get diagnostics v_total = row_count;

  if v_max_unavailable is not null then
    v_batch := greatest(1, floor(v_max_unavailable * v_total)::integer);
    update public.fly_rollouts r set batch_size = v_batch where r.id = v_row.id;
  end if;
  v_batch := coalesce(v_batch, 1);
  -- Number the targets in a stable order: canaries get batch 0, the rest fill batches of batch_size.
  -- Canaries come from the users whose machine runs (active, not held): a canary is there to prove the image
  -- serves, which a held (stopped) or not yet provisioned user cannot.
  update public.fly_rollout_targets t set batch = case
      when o.n <= v_canary then 0
      else (o.n - v_canary - 1) / v_batch + 1 end
  from (select rt.user_id,
               row_number() over (order by (a.status = 'active' and a.held_at is null) desc,
                                           md5(rt.user_id::text || v_row.id::text)) as n
        from public.fly_rollout_targets rt
        join public.user_fly_apps a on a.user_id = rt.user_id
        where rt.rollout_id = v_row.id) o
  where t.rollout_id = v_row.id and t.user_id = o.user_id;

  perform private._append_fly_rollout_event(v_row.id, 'created', p_actor, null, 'pending', v_row.reason,
    jsonb_build_object('target', v_row.target, 'tier', v_tier, 'total', v_total));
  v_row := private._count_fly_rollout(v_row.id);
  if v_start then
    return (private.transition_fly_rollout(v_row.id, 'start', p_actor, v_row.reason)) -> 'rollout';
  end if;
  return private._fly_rollout_json(v_row);
end
$$;
comment on function private.create_fly_rollout(jsonb, text) is
  'Creates a rollout from {target, tier?, canary_count? (1), batch_size? | max_unavailable?, '
  'health_timeout_s? (300), max_failures? (0), reason?, start? (true)}: validates (22023 naming the field), '
  'refuses an overlapping active rollout (23505), snapshots each target''s previous spec, batches the '
  'targets (0 = canaries), and starts it unless start = false. Returns the rollout.';

-- ---------------------------------------------------------------------------------------------------------
-- State transitions.

create or replace function private.transition_fly_rollout(
  p_rollout_id uuid,
  p_action text,
  p_actor text,
  p_reason text default null,
  p_error text default null
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
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
comment on function private.transition_fly_rollout(uuid, text, text, text, text) is
  'Moves a rollout: start (pending→running), pause (running→paused), resume (paused|halted→running; a '
  'halted one retries its failed targets), abort (→aborted), halt (running→halted, with error), rollback '
  '(→running in direction rollback), complete (running→completed, or rolled_back in direction rollback; '
  'refused while targets are open). Idempotent: {changed: false} when already there; 55000 when the state '
  'does not allow the action. Each change is a fly_rollout_events row with the actor.';

-- ---------------------------------------------------------------------------------------------------------
-- Driving.

create or replace function private.lease_fly_rollouts(p_owner text, p_lease_seconds integer)
returns setof jsonb
language plpgsql
security definer
set search_path = ''
as $$
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
comment on function private.lease_fly_rollouts(text, integer) is
  'Leases every running rollout no other driver holds (or renews ours) for p_lease_seconds; returns them.';

create or replace function private.release_fly_rollout(p_rollout_id uuid, p_owner text)
returns void
language sql
security definer
set search_path = ''
as $$
  update public.fly_rollouts r set lease_owner = null, lease_expires_at = null
  where r.id = p_rollout_id and r.lease_owner = p_owner
$$;
comment on function private.release_fly_rollout(uuid, text) is
  'Releases the driver lease of a rollout if p_owner holds it.';

-- Dropped first: 20261206002000 changes its result columns, and a re-run of this file must not collide with them.
drop function if exists private.claim_fly_rollout_targets(uuid, text, integer);
create or replace function private.claim_fly_rollout_targets(p_rollout_id uuid, p_owner text, p_limit integer)
returns table (user_id uuid, batch integer, state text, attempts integer, previous jsonb)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_row public.fly_rollouts;
  v_open text[];
  v_batch integer;
begin
  v_row := private._lock_fly_rollout(p_rollout_id, p_owner);
  if v_row.state <> 'running' or coalesce(p_limit, 0) <= 0 then
    return;
  end if;
  v_open := case v_row.direction when 'forward' then array['pending', 'updating']
            else array['healthy', 'failed', 'updating', 'rolling_back'] end;
  select min(t.batch) into v_batch from public.fly_rollout_targets t
  where t.rollout_id = p_rollout_id and t.state = any (v_open);
  if v_batch is null then
    return;
  end if;
  return query
  with picked as (
    select t.user_id from public.fly_rollout_targets t
    where t.rollout_id = p_rollout_id and t.batch = v_batch and t.state = any (v_open)
    -- Targets already in flight (a driver stopped mid-way) first.
    order by (t.state in ('updating', 'rolling_back')) desc, t.user_id
    limit p_limit
    for update
  )
  update public.fly_rollout_targets t set
    state = case when v_row.direction = 'forward' then 'updating' else 'rolling_back' end,
    attempts = t.attempts + 1,
    updated_at = now()
  from picked
  where t.rollout_id = p_rollout_id and t.user_id = picked.user_id
  returning t.user_id, t.batch, t.state, t.attempts, t.previous;
end
$$;
comment on function private.claim_fly_rollout_targets(uuid, text, integer) is
  'For the lease holder of a running rollout: up to p_limit targets of the lowest batch with open targets '
  '(forward: pending/updating → updating; rollback: healthy/failed/updating/rolling_back → rolling_back), '
  'in-flight ones first, attempts + 1. Empty when the rollout is not running or nothing is open.';

create or replace function private.record_fly_rollout_target(
  p_rollout_id uuid,
  p_owner text,
  p_user_id uuid,
  p_outcome text,
  p_image_digest text default null,
  p_error text default null
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_target public.fly_rollout_targets;
  v_to text;
  v_row public.fly_rollouts;
begin
  if p_outcome is null or p_outcome not in ('healthy', 'failed', 'progressing') then
    perform private._fail_input('outcome: must be healthy, failed or progressing');
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
  if p_outcome = 'progressing' then
    update public.fly_rollout_targets t set error = left(p_error, 4000), updated_at = now()
    where t.rollout_id = p_rollout_id and t.user_id = p_user_id;
    select * into v_row from public.fly_rollouts r where r.id = p_rollout_id;
    return private._fly_rollout_json(v_row);
  end if;
  v_to := case
    when v_target.state = 'updating' then p_outcome
    when p_outcome = 'healthy' then 'rolled_back'
    else 'rollback_failed' end;
  update public.fly_rollout_targets t set
    state = v_to,
    image_digest = coalesce(p_image_digest, t.image_digest),
    error = case when p_outcome = 'failed' then left(p_error, 4000) end,
    updated_at = now()
  where t.rollout_id = p_rollout_id and t.user_id = p_user_id;
  perform private.append_user_fly_app_event(p_user_id, 'rollout_target_' || v_to,
    case when p_outcome = 'healthy' then 'ok' else 'error' end,
    jsonb_strip_nulls(jsonb_build_object('rollout_id', p_rollout_id, 'batch', v_target.batch,
                                         'attempts', v_target.attempts, 'image_digest', p_image_digest)),
    case when p_outcome = 'failed' then p_error end);
  v_row := private._count_fly_rollout(p_rollout_id);
  return private._fly_rollout_json(v_row);
end
$$;
comment on function private.record_fly_rollout_target(uuid, text, uuid, text, text, text) is
  'Records a claimed target''s outcome (healthy | failed | progressing = still waiting, stays claimed): '
  'forward → healthy/failed, rollback → rolled_back/rollback_failed; appends a rollout_target_<state> event '
  'for the user, recomputes the counters, returns the rollout. A target not in flight is left as it is.';

create or replace function private.pin_fly_rollout_digest(p_rollout_id uuid, p_digest text, p_pinned_image text)
returns text
language plpgsql
security definer
set search_path = ''
as $$
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
$$;
comment on function private.pin_fly_rollout_digest(uuid, text, text) is
  'Pins the rollout''s image digest once (the first writer wins), with the target image pinned to it as the '
  'driver computed it (p_pinned_image, what a completed rollout writes into the plans); returns the pinned '
  'digest.';

create or replace function private.fly_rollout_status(p_rollout_id uuid default null, p_events integer default 50)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'rollout', private._fly_rollout_json(r),
    'batches', coalesce((
      select jsonb_agg(b.counts order by b.batch) from (
        select t.batch, jsonb_build_object('batch', t.batch) || jsonb_object_agg(t.state, t.n) as counts
        from (select t2.batch, t2.state, count(*) as n from public.fly_rollout_targets t2
              where t2.rollout_id = r.id group by t2.batch, t2.state) t
        group by t.batch) b), '[]'::jsonb),
    'events', coalesce((
      select jsonb_agg(to_jsonb(e) - 'rollout_id' order by e.seq) from (
        select * from public.fly_rollout_events e2 where e2.rollout_id = r.id
        order by e2.seq desc limit greatest(coalesce(p_events, 50), 0)) e), '[]'::jsonb))
  from public.fly_rollouts r
  where r.id = p_rollout_id
     or (p_rollout_id is null and r.id = (select r2.id from public.fly_rollouts r2
                                           order by r2.created_at desc, r2.id limit 1))
$$;
comment on function private.fly_rollout_status(uuid, integer) is
  'What ops see of a rollout (the latest when p_rollout_id is null): {rollout, batches: [{batch, <state>: '
  'count, ...}], events: the last p_events fly_rollout_events, oldest first}. Null when there is none.';


-- ---------------------------------------------------------------------------------------------------------
-- A completed rollout records its target in the plans; a rolled back one restores them.

create or replace function private.fly_rollout_record_in_plans() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
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
comment on function private.fly_rollout_record_in_plans() is
  'A rollout that completes writes its target into the scope''s plans (image pinned to the rollout''s '
  'digest); one that ends rolled_back restores the plans snapshotted at creation (previous_spec).';

drop trigger if exists fly_rollouts_record_in_plans on public.fly_rollouts;

create trigger fly_rollouts_record_in_plans
  after update of state on public.fly_rollouts
  for each row
  when (new.state in ('completed', 'rolled_back') and old.state is distinct from new.state)
  execute function private.fly_rollout_record_in_plans();


revoke all on all functions in schema private from public, anon, authenticated, service_role;
