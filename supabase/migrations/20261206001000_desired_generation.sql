-- Issue 19: one desired state per generation, tier changes apply their plan, deleted users stay quiet,
-- per-user ops overrides.
--
-- * Design: a reconcile acts ONLY on the desired state recorded on the row (desired_state, desired_tier,
--   desired_generation), and the drainer (private._apply_desired_state, through drain_tier_outbox and the
--   sweep's drift repair) is its only writer. private.get_desired_spec no longer reads the subscription's
--   current tier: what a reconcile acts on is exactly what was recorded under the generation it records, so
--   the drainer's "no difference" is always true of what Fly was converged to. Rapid flips still collapse:
--   the drainer records the current tier when it drains.
-- * The row records which tier, which version of its plan and which override version its machine was last
--   converged to (applied_tier, applied_plan_version, applied_override_version): a tier change or an
--   override change applies the plan at once; a plan edit (fly_plans.plan_version) stays drift.
-- * private.flag_state_contradictions: the sweep's safety net for rows whose observed state contradicts the
--   desired one.
-- * record_fleet_states ignores settled deleted rows whose machines are all destroyed.
-- * public.user_fly_app_overrides: per-user ops overrides (size, region, image), with actor and reason.
-- * An override, a hold or a release is a new desired generation (they change what the user should run), so
--   an attempt in flight leaves the row due instead of clearing it.

-- ---------------------------------------------------------------------------------------------------------
-- Plan versions and what a machine was converged to.

alter table public.fly_plans add column if not exists plan_version bigint not null default 1;
comment on column public.fly_plans.plan_version is
  'Bumped by every change of the plan: which version of a tier''s plan a machine was converged to is '
  'recorded in user_fly_apps.applied_plan_version.';

create or replace function private.fly_plans_bump_version() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  new.plan_version := old.plan_version + 1;
  return new;
end
$$;
comment on function private.fly_plans_bump_version() is 'Trigger: a changed plan gets the next plan_version.';

drop trigger if exists fly_plans_plan_version on public.fly_plans;
create trigger fly_plans_plan_version
  before update of dedicated_app, region, cpu_kind, cpus, memory_mb, image, public_services, volume_size_gb,
    volume_mount_path on public.fly_plans
  for each row
  when ((old.dedicated_app, old.region, old.cpu_kind, old.cpus, old.memory_mb, old.image, old.public_services,
         old.volume_size_gb, old.volume_mount_path)
        is distinct from (new.dedicated_app, new.region, new.cpu_kind, new.cpus, new.memory_mb, new.image,
                          new.public_services, new.volume_size_gb, new.volume_mount_path))
  execute function private.fly_plans_bump_version();

alter table public.user_fly_apps
  add column if not exists applied_tier text,
  add column if not exists applied_plan_version bigint,
  add column if not exists applied_override_version bigint;
comment on column public.user_fly_apps.applied_tier is
  'The tier whose plan the machine was last converged to (null: none yet, or unknown for rows older than '
  'this column). A desired tier that differs is a tier change: the reconcile applies the new plan at once.';
comment on column public.user_fly_apps.applied_plan_version is
  'fly_plans.plan_version of applied_tier when the machine was last converged (a newer one is a plan edit: '
  'drift until a rollout applies it).';
comment on column public.user_fly_apps.applied_override_version is
  'user_fly_app_overrides.version the machine was last converged to (null: no override).';

-- Rows converged before this migration ran their tier's plan as far as anyone knows.
update public.user_fly_apps a set applied_tier = a.desired_tier,
  applied_plan_version = (select p.plan_version from public.fly_plans p where p.tier = a.desired_tier)
where a.desired_state = 'present' and a.status in ('active', 'held') and a.applied_tier is null;

-- ---------------------------------------------------------------------------------------------------------
-- Per-user overrides.

create table if not exists public.user_fly_app_overrides (
  user_id uuid primary key,
  cpu_kind text check (cpu_kind in ('shared', 'performance')),
  cpus integer check (cpus between 1 and 16),
  memory_mb integer check (memory_mb between 256 and 131072),
  region text check (region ~ '^[a-z]{3}$'),
  image text check (image ~ '^\S+$' and length(image) <= 512),
  reason text check (length(reason) <= 500),
  actor text not null,
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint user_fly_app_overrides_not_empty check (
    num_nonnulls(cpu_kind, cpus, memory_mb, region, image) > 0)
);
comment on table public.user_fly_app_overrides is
  'Per-user ops overrides of the tier plan (what a support engineer sets for one customer): the effective '
  'spec is override, then tier plan, then rollout. Written only by private.set_user_fly_app_override.';
alter table public.user_fly_app_overrides enable row level security;
revoke all on table public.user_fly_app_overrides from public, anon, authenticated;

-- Bad input: 22023 with a clear message, nothing written.
create or replace function private.set_user_fly_app_override(
  p_user_id uuid,
  p_fields jsonb,
  p_actor text,
  p_reason text default null
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
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
comment on function private.set_user_fly_app_override(uuid, jsonb, text, text) is
  'Sets (p_fields: {cpu_kind?, cpus?, memory_mb?, region?, image?}) or clears ({}) a user''s override, with '
  'actor and reason; bad values raise 22023 and write nothing. Gives the user''s row a new desired generation, '
  'due now (applied at once through the controller; an attempt in flight leaves it due: the generation fence '
  'of record_outcome), and appends override_set / override_cleared (actor, reason, from, to). Returns '
  '{override (null: cleared), due}.';

-- A user's override as jsonb (null: none): the one shape the spec, the admin API and the status show.
create or replace function private.user_fly_app_override(p_user_id uuid) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_strip_nulls(jsonb_build_object(
    'version', o.version, 'cpu_kind', o.cpu_kind, 'cpus', o.cpus, 'memory_mb', o.memory_mb, 'region', o.region,
    'image', o.image, 'reason', o.reason, 'actor', o.actor, 'updated_at', o.updated_at))
  from public.user_fly_app_overrides o where o.user_id = p_user_id
$$;
comment on function private.user_fly_app_override(uuid) is
  'The user''s ops override as {version, cpu_kind?, cpus?, memory_mb?, region?, image?, reason?, actor, '
  'updated_at}, or null when there is none.';

-- Holds too are a change of what the user should run: a hold or release recorded while an attempt was in
-- flight was lost when that attempt recorded its outcome (next_attempt_at cleared); a new desired
-- generation keeps the row due (same function as 20261206000400_ops.sql, plus the generation).
create or replace function private.set_user_fly_app_hold(
  p_user_id uuid,
  p_held boolean,
  p_actor text,
  p_reason text default null,
  p_replace boolean default false
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
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
revoke all on function private.set_user_fly_app_hold(uuid, boolean, text, text, boolean) from public;
comment on function private.set_user_fly_app_hold(uuid, boolean, text, text, boolean) is
  'Ops hold (p_held true: held_at = now(), held_by = p_actor, hold_reason) or release (clears them) of a '
  'user''s machine; the row gets a new desired generation, due now (an attempt in flight leaves it due), so the controller stops (hold) or starts (release) the machine, '
  'and an event hold_set / hold_released names the actor. Holding a held row raises 55000 naming who holds it, '
  'since when and why, unless p_replace: then the hold_set event records the replaced hold under "replaced". '
  'Raises P0002 without a row, 55000 when holding a row whose desired state is absent. Returns the row.';

-- The one place that says whether a user's image is pinned by an override (rollouts skip such users).
create or replace function private.has_image_override(p_user_id uuid) returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (select 1 from public.user_fly_app_overrides o where o.user_id = p_user_id and o.image is not null)
$$;
comment on function private.has_image_override(uuid) is
  'Whether an ops override pins the user''s image (a rollout leaves such users alone unless told otherwise).';

-- ---------------------------------------------------------------------------------------------------------
-- The desired spec: the row's recorded desired state only.

create or replace function private.get_desired_spec(p_user_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
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
      'deprovision_grace_seconds', p.deprovision_grace_seconds) end)
  from (select p_user_id as uid) u
  left join public.user_fly_apps a on a.user_id = u.uid
  left join public.user_subscriptions s on s.user_id = u.uid
  left join public.fly_plans p on p.tier = coalesce(a.desired_tier, s.tier)
$$;
comment on function private.get_desired_spec(uuid) is
  'What the user should have under the row''s recorded desired generation (never the unrecorded current '
  'tier: the drainer records that as a new generation): {user_id, tier (the recorded desired_tier), '
  'desired_state present|absent (the row''s; absent when its tier''s plan has no app), desired_generation, '
  'deprovision_grace_seconds, rollout (private.fly_rollout_spec_for_user), override ({version, cpu_kind?, '
  'cpus?, memory_mb?, region?, image?} or null), plan: {tier, plan_version, region, cpu_kind, cpus, '
  'memory_mb, image, public_services, monthly_cost_estimate_usd, volume_size_gb, volume_mount_path, '
  'deprovision_grace_seconds} or null}.';

-- ---------------------------------------------------------------------------------------------------------
-- The patch whitelist gains what a machine was converged to.

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
    'delete_after', 'volume_id', 'credential_expires_at', 'credential_key_id', 'applied_tier',
    'applied_plan_version', 'applied_override_version'
  ]::text[]
$$;

-- ---------------------------------------------------------------------------------------------------------
-- Deleted users are not observed; contradictions are due now.

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
comment on function private.record_fleet_states(jsonb) is
  'Writes last_machine_state/last_observed_at of the rows whose app appears in p_states '
  '[{app_name, state, machine_id, live_machines, observed_at}] in one statement, except deleted rows whose '
  'machines are all gone (destroyed machines are ignored); returns each written row with its previous '
  'state, for the sweep to decide which apps need a closer look.';

create or replace function private.flag_state_contradictions(
  p_live_ids uuid[] default '{}',
  p_limit integer default 1000
) returns setof uuid
language plpgsql
security definer
set search_path = ''
as $$
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
comment on function private.flag_state_contradictions(uuid[], integer) is
  'The sweep''s safety net: rows whose observed state contradicts their desired state (absent but active or '
  'held, or deleted while the fleet listing saw a live machine of ours for it (p_live_ids); present but '
  'deleted or suspended), not leased and not already due, become due now with a state_contradiction warning '
  'naming both sides. Returns their ids (at most p_limit).';

revoke all on all functions in schema private from public, anon, authenticated, service_role;
