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

revoke all on function private.create_fly_rollout(jsonb, text) from public, anon, authenticated, service_role;
