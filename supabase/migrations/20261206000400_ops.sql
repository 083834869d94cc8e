-- Operations: the storage primitives the fly-apps-admin function uses. Business rules stay in TypeScript;
-- these only change rows atomically and append the audit events that name the acting operator.
--
--   * private.set_user_fly_app_hold / private.retry_user_fly_apps: ops actions on the durable rows;
--   * private.machine_monthly_cost_usd prices a guest from public.fly_prices; every plan and row carries
--     monthly_cost_estimate_usd computed from it (triggers keep it current);
--   * private.record_machine_observations: running time per user and day, accumulated from successive
--     observed machine states into public.user_fly_app_usage_daily;
--   * private.ops_doctor_report: the database side of `deno task ops doctor`.

-- ---------------------------------------------------------------------------------------------------------
-- Hold and release.

-- Operations (issue: admin API, CLI, costs and usage, migrate, doctor): the storage primitives the
-- fly-apps-admin function uses. Business rules stay in TypeScript; these only change rows atomically and
-- append the audit events that name the acting operator.
--
--   * private.set_user_fly_app_hold / private.retry_user_fly_apps: ops actions on the durable rows;
--   * public.fly_prices: Fly's published prices, editable by ops; private.machine_monthly_cost_usd prices a
--     guest; every plan and row carries monthly_cost_estimate_usd computed from it;
--   * public.user_fly_app_usage_daily + private.record_machine_observations: running time per user and day,
--     accumulated from successive observed machine states;
--   * private.ops_doctor_report: the database side of `deno task ops doctor`.

-- ---------------------------------------------------------------------------------------------------------
-- Hold and release.
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
  'user''s machine; the row becomes due now so the controller stops (hold) or starts (release) the machine, '
  'and an event hold_set / hold_released names the actor. Holding a held row raises 55000 naming who holds it, '
  'since when and why, unless p_replace: then the hold_set event records the replaced hold under "replaced". '
  'Raises P0002 without a row, 55000 when holding a row whose desired state is absent. Returns the row.';


-- ---------------------------------------------------------------------------------------------------------
-- Retry: make rows due now, clearing a permanent error.

-- ---------------------------------------------------------------------------------------------------------
-- Retry: make rows due now, clearing a permanent error.
create or replace function private.retry_user_fly_apps(
  p_actor text,
  p_user_id uuid default null,
  p_statuses text[] default null,
  p_reason text default null,
  p_limit integer default 1000
) returns setof uuid
language plpgsql
security definer
set search_path = ''
as $$
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
comment on function private.retry_user_fly_apps(text, uuid, text[], text, integer) is
  'Ops retry: the row of p_user_id, or up to p_limit rows whose status is in p_statuses, become due now with '
  'retry_count 0 and no error_message (error/failed go back to pending), each with a retry_requested event '
  'naming p_actor. The controller (sync reconcile, kick or sweep) then reconciles them at the rate limits. '
  'Returns the user ids.';


-- ---------------------------------------------------------------------------------------------------------
-- Prices and cost estimates.

create or replace function private.machine_monthly_cost_usd(
  p_cpu_kind text,
  p_cpus integer,
  p_memory_mb integer,
  p_dedicated_ipv4 integer default 0,
  p_volume_gb integer default 0
) returns numeric
language sql
stable
security definer
set search_path = ''
as $$
  select round(
    p_cpus * cpu.monthly_usd
    + greatest(p_memory_mb - p_cpus * coalesce(cpu.included_memory_mb_per_cpu, 0), 0) / 1024.0 * mem.monthly_usd
    + coalesce(p_dedicated_ipv4, 0) * ip.monthly_usd
    + coalesce(p_volume_gb, 0) * vol.monthly_usd, 2)
  from public.fly_prices cpu, public.fly_prices mem, public.fly_prices ip, public.fly_prices vol
  where cpu.item = 'cpu_' || p_cpu_kind and mem.item = 'memory_gb' and ip.item = 'ipv4_dedicated'
    and vol.item = 'volume_gb' and p_cpus > 0 and p_memory_mb > 0
$$;
comment on function private.machine_monthly_cost_usd(text, integer, integer, integer, integer) is
  'Cost of 30 days of running one machine of this guest (cpu_kind, cpus, memory_mb) plus dedicated IPv4 '
  'addresses and volume GB, from public.fly_prices; null for an unknown kind or size.';

-- The plan's estimate follows its size and the prices (a plan without a dedicated app costs nothing).
create or replace function private.fly_plans_set_cost_estimate() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  new.monthly_cost_estimate_usd := case
    when new.dedicated_app then private.machine_monthly_cost_usd(new.cpu_kind, new.cpus, new.memory_mb)
    else 0 end;
  return new;
end
$$;
comment on function private.fly_plans_set_cost_estimate() is
  'Trigger: sets fly_plans.monthly_cost_estimate_usd from the plan''s size and public.fly_prices (0 without '
  'a dedicated app).';

drop trigger if exists fly_plans_cost_estimate on public.fly_plans;

create trigger fly_plans_cost_estimate
  before insert or update of dedicated_app, cpu_kind, cpus, memory_mb, monthly_cost_estimate_usd
  on public.fly_plans
  for each row execute function private.fly_plans_set_cost_estimate();

-- A row's estimate: the running price of its size while its machine runs, its storage only while it is
-- held or stopped (Fly bills a stopped machine's root file system and its volume).
create or replace function private.storage_monthly_cost_usd(p_volume_gb integer default 0)
returns numeric
language sql
stable
security definer
set search_path = ''
as $$
  select round(rootfs.monthly_usd + coalesce(p_volume_gb, 0) * vol.monthly_usd, 2)
  from public.fly_prices rootfs, public.fly_prices vol
  where rootfs.item = 'rootfs_gb' and vol.item = 'volume_gb'
$$;
revoke all on function private.storage_monthly_cost_usd(integer) from public;
comment on function private.storage_monthly_cost_usd(integer) is
  'Cost of 30 days of a machine that does not run: its root file system (rootfs_gb, 1 GB) and p_volume_gb '
  'of volume (volume_gb), from public.fly_prices.';

create or replace function private.user_fly_apps_set_cost_estimate() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
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
revoke all on function private.user_fly_apps_set_cost_estimate() from public;
comment on function private.user_fly_apps_set_cost_estimate() is
  'Trigger: the estimate of a row whose app is wanted and whose size is recorded: storage only '
  '(private.storage_monthly_cost_usd, the plan''s volume when the row has one) while held or while the '
  'machine is stopped or suspended; the running price of its size (private.machine_monthly_cost_usd) '
  'otherwise. Rows whose app is not wanted keep the estimate the engine records (storage in a grace period, '
  '0 once deleted).';

drop trigger if exists user_fly_apps_cost_estimate on public.user_fly_apps;

create trigger user_fly_apps_cost_estimate
  before insert or update of monthly_cost_estimate_usd, held_at, last_machine_state, desired_state, cpu_kind,
    cpu_count, memory_mb, volume_id
  on public.user_fly_apps
  for each row execute function private.user_fly_apps_set_cost_estimate();

create or replace function private.refresh_cost_estimates() returns integer
language plpgsql
security definer
set search_path = ''
as $$
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
comment on function private.refresh_cost_estimates() is
  'Recomputes monthly_cost_estimate_usd from public.fly_prices: every plan (from its size) and every app row '
  'with a recorded size (0 when no app is wanted). A row without a size yet gets its plan''s estimate from '
  'the engine when it converges. Run when prices change (the fly_prices trigger does).';

create or replace function private.fly_prices_changed() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.refresh_cost_estimates();
  return null;
end
$$;
comment on function private.fly_prices_changed() is
  'Trigger: re-estimates plans and rows after any change to public.fly_prices.';

drop trigger if exists fly_prices_refresh_estimates on public.fly_prices;

create trigger fly_prices_refresh_estimates
  after insert or update or delete on public.fly_prices
  for each statement execute function private.fly_prices_changed();

select private.refresh_cost_estimates();


-- ---------------------------------------------------------------------------------------------------------
-- Runtime from observed machine states.

create or replace function private.record_machine_observations(
  p_observations jsonb,
  p_max_gap_seconds integer default 600
) returns integer
language plpgsql
security definer
set search_path = ''
as $$
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
comment on function private.record_machine_observations(jsonb, integer) is
  'Records observed machine states [{user_id, machine_id, state, observed_at}] (set-based, any order; '
  'observations not newer than the machine''s last recorded one are ignored). The time since the machine''s '
  'previous observation counts as running when that observation saw it started and the gap is at most '
  'p_max_gap_seconds (a longer gap is unknown, not counted); the seconds are split over UTC days into '
  'public.user_fly_app_usage_daily. Returns the number of observations taken. Called by the sweep for every '
  'machine it observes.';


-- ---------------------------------------------------------------------------------------------------------
-- Doctor: what the database side of the chain looks like.

-- ---------------------------------------------------------------------------------------------------------
-- Doctor: what the database side of the chain looks like.
create or replace function private.ops_doctor_report() returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
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
        'fly_provisioner_secret', exists(select 1 from vault.decrypted_secrets
                              where name = 'fly_provisioner_secret' and coalesce(decrypted_secret, '') <> ''),
        'project_url_is_http', coalesce((select btrim(decrypted_secret) ~* '^https?://[^/\s?#]+'
                              from vault.decrypted_secrets where name = 'project_url' limit 1), false))
    $q$ into v_vault;
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
$$;
comment on function private.ops_doctor_report() is
  'Database side of `ops doctor`, names and states only (never a secret value): which Vault secrets exist, '
  'the check-fly-apps-health cron job, since when it is scheduled (scheduled_since: the later of the server '
  'start and private.cron_job_schedules) and its last run, pg_net''s queue and its recent responses.';
revoke all on function private.ops_doctor_report() from public, anon, authenticated, service_role;


revoke all on all functions in schema private from public, anon, authenticated, service_role;
