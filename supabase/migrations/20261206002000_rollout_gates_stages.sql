-- Rollouts that halt on their own, say what they wait for, and roll out by percentage (issue 20).
--
--   * Gates that end: a target's gate starts when its update is applied, and that time is stored with the
--     target (fly_rollout_targets.gate_started_at); every driver run, and a driver that replaced a crashed
--     one, measures the gate from it. A driver run looks at a gate once and records what it saw (the
--     machine's state and its failing checks), so status can say what the rollout waits for.
--   * Skipped targets: a target the rollout leaves alone (not provisioned; the overrides of the invariants
--     issue) ends `skipped` with its reason; a held user's machine gets the config without the gate
--     (`healthy`, skip_reason `held`: counted as applied).
--   * Stages and cohorts: every user has a stable bucket (0-99, from a hash of the user id), and the scope's
--     users are ordered by (named users first, bucket, hash): the same users go first in every rollout.
--     `stages` (percentages) cut that order into stages, `users` / a saved cohort go before the first stage.
--   * Bake: after a batch passes its gates, its machines are watched for bake_s seconds (the sweep's
--     observations) before the next batch starts.
--   * The driver lease is freed when a rollout is rolled back or aborted, so the driver kicked by that action
--     takes it at once and the driver in flight stops at its next write.
--
-- Replaces private.create_fly_rollout, claim_fly_rollout_targets, record_fly_rollout_target,
-- _count_fly_rollout and fly_rollout_status of 20261206000500_rollouts.sql.

-- ---------------------------------------------------------------------------------------------------------
-- Columns.

alter table public.fly_rollout_targets
  add column if not exists gate_started_at timestamptz,
  add column if not exists machine_state text,
  add column if not exists failing_checks text[],
  add column if not exists skip_reason text,
  add column if not exists stage text,
  add column if not exists bucket smallint check (bucket between 0 and 99);
comment on column public.fly_rollout_targets.gate_started_at is
  'When the target''s update (or rollback) was applied: its health gate ends health_timeout_s after this.';
comment on column public.fly_rollout_targets.machine_state is
  'The machine state the driver''s last look at the gate saw.';
comment on column public.fly_rollout_targets.failing_checks is
  'The checks the driver''s last look saw critical or not reported yet.';
comment on column public.fly_rollout_targets.skip_reason is
  'skipped: why the target was left alone (not_provisioned, overridden); healthy: held (config applied to '
  'the stopped machine, no gate).';
comment on column public.fly_rollout_targets.stage is
  'The part of the rollout the target belongs to: canary, users (named users or a cohort), or a stage '
  'percentage such as 10%.';
comment on column public.fly_rollout_targets.bucket is
  'The user''s stable bucket (0-99, private.fly_rollout_bucket).';

alter table public.fly_rollout_targets drop constraint if exists fly_rollout_targets_state_check;
alter table public.fly_rollout_targets add constraint fly_rollout_targets_state_check
  check (state in ('pending', 'updating', 'healthy', 'failed', 'skipped', 'rolling_back', 'rolled_back',
                   'rollback_failed'));

alter table public.fly_rollouts
  add column if not exists stages integer[],
  add column if not exists cohort text,
  add column if not exists bake_s integer not null default 0 check (bake_s >= 0),
  add column if not exists baked_batch integer not null default -1,
  add column if not exists bake_started_at timestamptz,
  add column if not exists skipped integer not null default 0;
comment on column public.fly_rollouts.stages is
  'Percentages of the scope''s users, in order (the last is 100); null: one stage of every user.';
comment on column public.fly_rollouts.cohort is 'The saved cohort (fly_rollout_cohorts) that went first.';
comment on column public.fly_rollouts.bake_s is
  'After a batch passes its gates, how long its machines are watched before the next batch starts.';
comment on column public.fly_rollouts.baked_batch is 'The last batch whose bake passed (-1: none).';
comment on column public.fly_rollouts.bake_started_at is 'When the bake of the batch after baked_batch began.';

-- Saved cohorts: users who go first (`--cohort early-access`).
create table if not exists public.fly_rollout_cohorts (
  name text primary key check (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  user_ids uuid[] not null check (cardinality(user_ids) between 1 and 1000),
  created_by text not null,
  updated_at timestamptz not null default now()
);
comment on table public.fly_rollout_cohorts is
  'Named sets of users a rollout can send first (before its first stage), saved by operators.';
alter table public.fly_rollout_cohorts enable row level security;
revoke all on public.fly_rollout_cohorts from public, anon, authenticated;
grant all on public.fly_rollout_cohorts to service_role;

-- ---------------------------------------------------------------------------------------------------------
-- Lease: an operator's action frees it.

create or replace function private.free_fly_rollout_lease() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  new.lease_owner := null;
  new.lease_expires_at := null;
  return new;
end
$$;
comment on function private.free_fly_rollout_lease() is
  'Trigger: a rollout rolled back (its direction changes) or aborted loses its driver lease, so the driver '
  'kicked by the change takes it at once (the old driver''s next write fails with lease_not_held: it stops).';

drop trigger if exists fly_rollouts_free_lease on public.fly_rollouts;
create trigger fly_rollouts_free_lease
  before update of state, direction on public.fly_rollouts
  for each row
  when (old.direction is distinct from new.direction
        or (new.state = 'aborted' and old.state is distinct from new.state))
  execute function private.free_fly_rollout_lease();

-- ---------------------------------------------------------------------------------------------------------
-- Buckets and cohorts.

create or replace function private.fly_rollout_bucket(p_user_id uuid)
returns integer
language sql
immutable
security definer
set search_path = ''
as $$
  select (('x' || substr(md5(p_user_id::text), 1, 8))::bit(32)::bigint % 100)::integer
$$;
comment on function private.fly_rollout_bucket(uuid) is
  'A user''s stable rollout bucket, 0-99: the first 32 bits of md5(user id) modulo 100.';

create or replace function private.save_fly_rollout_cohort(p_name text, p_user_ids uuid[], p_actor text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
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
$$;
comment on function private.save_fly_rollout_cohort(text, uuid[], text) is
  'Saves (or replaces) a named cohort of users a rollout can send first; 22023 naming the field.';

-- ---------------------------------------------------------------------------------------------------------
-- Counters.

create or replace function private._count_fly_rollout(p_rollout_id uuid)
returns public.fly_rollouts
language sql
security definer
set search_path = ''
as $$
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

-- ---------------------------------------------------------------------------------------------------------
-- Creating: stages, named users, cohorts, bake.

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
$$;
comment on function private.create_fly_rollout(jsonb, text) is
  'Creates a rollout from {target, tier?, canary_count? (1), batch_size? | max_unavailable?, '
  'health_timeout_s? (300), max_failures? (0), stages? (percentages ending at 100), users? (ids first), '
  'cohort? (a saved cohort first), bake_s? (0), reason?, start? (true)}: validates (22023 naming the field), '
  'refuses an overlapping active rollout (23505 naming it and its state), snapshots each target''s previous '
  'spec, orders the targets by (named users, bucket, hash) and batches them (0 = canaries, then the named '
  'users, then each stage), and starts it unless start = false. Returns the rollout.';

-- ---------------------------------------------------------------------------------------------------------
-- Driving: claims carry the gate's start; records carry what the gate looks like.

drop function if exists private.claim_fly_rollout_targets(uuid, text, integer);
create function private.claim_fly_rollout_targets(p_rollout_id uuid, p_owner text, p_limit integer)
returns table (user_id uuid, batch integer, state text, attempts integer, previous jsonb,
               gate_started_at timestamptz, app jsonb)
language plpgsql
security definer
set search_path = ''
as $$
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
comment on function private.claim_fly_rollout_targets(uuid, text, integer) is
  'For the lease holder of a running rollout: up to p_limit targets of the lowest batch with open targets '
  '(forward: pending/updating → updating; rollback: healthy/failed/updating/rolling_back → rolling_back), '
  'in-flight ones first, with their gate_started_at (null: not applied yet; attempts + 1 then) and the '
  'user''s app {fly_app_name, machine_id, held_at, status} (null: no row). Empty when the rollout is not '
  'running or nothing is open.';

drop function if exists private.record_fly_rollout_target(uuid, text, uuid, text, text, text);
create or replace function private.record_fly_rollout_target(
  p_rollout_id uuid,
  p_owner text,
  p_user_id uuid,
  p_outcome text,
  p_image_digest text default null,
  p_error text default null,
  p_details jsonb default '{}'::jsonb
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
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
comment on function private.record_fly_rollout_target(uuid, text, uuid, text, text, text, jsonb) is
  'Records what a driver saw of a claimed target. progressing (update not applied yet) and gate (applied, '
  'waiting on its health gate; p_details.gate_started_at is kept from the first record) leave it claimed '
  'with the machine state and failing checks of p_details; healthy / failed end it (forward → healthy/failed, '
  'rollback → rolled_back/rollback_failed), skipped (p_details.skip_reason) leaves it alone. An ending '
  'appends a rollout_target_<state> event for the user, recomputes the counters; returns the rollout. A '
  'target not in flight is left as it is.';

-- ---------------------------------------------------------------------------------------------------------
-- Bake: watching a batch's machines before the next batch starts.

create or replace function private.fly_rollout_bake(p_rollout_id uuid, p_owner text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
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
comment on function private.fly_rollout_bake(uuid, text) is
  'For the lease holder of a running forward rollout with bake_s: whether the batches finished since the '
  'last bake may be followed. {state: none (no bake due) | baking (seconds_left, machines failing so far) | '
  'passed (the bake ended, recorded) | failed (more machines unhealthy or failed, as the sweep observed them '
  'since the bake began, than max_failures; machines: [{user_id, fly_app_name, machine_id, why}])}.';

-- ---------------------------------------------------------------------------------------------------------
-- Status: per batch (with its stage), per target in flight or not plainly healthy, the bake.

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
comment on function private.fly_rollout_status(uuid, integer) is
  'What ops see of a rollout (the latest when p_rollout_id is null): {rollout, batches: [{batch, stage, '
  '<state>: count, ...}], targets: the targets in flight, failed, skipped or applied without a gate (at most '
  '200) with gate_seconds_left, machine_state, failing_checks, skip_reason, error; bake: {batch, started_at, '
  'seconds_left} or null; events: the last p_events fly_rollout_events, oldest first}. Null when none.';

-- ---------------------------------------------------------------------------------------------------------
-- Which version runs where.

create or replace function private.fly_fleet_versions()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
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
comment on function private.fly_fleet_versions() is
  'Machines per tier and image digest (with the image reference they were given, the image of the rollout '
  'that pinned the digest, and how many the last observation saw started), and the active rollout''s '
  'target: {versions: [{tier, image, digest, rollout_image, machines, running}], rollout: {id, state, tier, '
  'image, digest, direction} or null}.';

revoke all on all functions in schema private from public, anon, authenticated, service_role;
