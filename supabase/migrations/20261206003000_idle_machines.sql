-- Idle machines (issue 23): a plan may let Fly's proxy stop or suspend its users' machines when no request
-- comes in, and start them again on the next one.
--
--   * public.fly_plans.idle_action: off (the default: the machine runs all the time), stop or suspend. The
--     engine puts it into the machine's public services (autostop, autostart, min_machines_running 0);
--   * suspend keeps the machine's memory, so Fly allows it only for machines of at most 2 GB (and without swap
--     or a schedule, which plans do not set): a check refuses anything else (the admin route answers 400 with
--     the reason before it gets here);
--   * user_fly_apps.health_status gains `idle`: a machine stopped or suspended by the proxy on a plan that
--     allows it. It is never repaired or alerted.

alter table public.fly_plans
  add column if not exists idle_action text not null default 'off';
alter table public.fly_plans drop constraint if exists fly_plans_idle_action_check;
alter table public.fly_plans add constraint fly_plans_idle_action_check
  check (idle_action in ('off', 'stop', 'suspend'));
alter table public.fly_plans drop constraint if exists fly_plans_suspend_limits_check;
alter table public.fly_plans add constraint fly_plans_suspend_limits_check
  check (idle_action <> 'suspend' or memory_mb is null or memory_mb <= 2048);
comment on column public.fly_plans.idle_action is
  'What Fly''s proxy does with the tier''s machine when no request comes in: off (keeps it running, the '
  'default), stop or suspend (at most 2048 MB of memory); the next request starts or resumes it. A stopped '
  'or suspended machine costs its storage only.';

alter table public.user_fly_apps drop constraint if exists user_fly_apps_health_status_check;
alter table public.user_fly_apps add constraint user_fly_apps_health_status_check
  check (health_status in ('healthy', 'unhealthy', 'starting', 'unknown', 'idle'));

-- "idle since": when the user's app was last judged idle (its health_changed event), while it still is.
create or replace function private.user_fly_app_idle_since(p_user_id uuid)
returns timestamptz
language sql
stable
security definer
set search_path = ''
as $$
  select max(e.created_at)
  from public.user_fly_apps a
  join public.user_fly_app_events e on e.user_id = a.user_id
  where a.user_id = p_user_id and a.health_status = 'idle'
    and e.event_type = 'health_changed' and e.metadata ->> 'to' = 'idle'
$$;
revoke all on function private.user_fly_app_idle_since(uuid) from public, anon, authenticated;
comment on function private.user_fly_app_idle_since(uuid) is
  'When the user''s app became idle (its last health_changed event to idle), or null when its health is not '
  'idle: the "idle since" of the status, the ops CLI and the console.';

-- Setting a plan's idle action from the admin API: the plan, and every machine of the tier due for a
-- reconcile (which applies the new services), each with an event naming the operator; one transaction.
create or replace function private.set_plan_idle_action(
  p_tier text,
  p_idle_action text,
  p_actor text,
  p_reason text default null
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
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
revoke all on function private.set_plan_idle_action(text, text, text, text) from public, anon, authenticated;
comment on function private.set_plan_idle_action(text, text, text, text) is
  'Sets fly_plans.idle_action of a tier with a dedicated app (P0002 otherwise; the table''s checks refuse '
  'suspend over 2048 MB) and, when it changed, makes every active or held row of the tier due now with a '
  'retry_requested event naming p_actor, p_reason and the change, so reconciles give the machines the new '
  'services. Returns {tier, previous, idle_action, due_users}.';

-- Rollouts and idle machines: an idle machine gets the rollout's config without being started (as a held one
-- does); with `wake` the rollout starts it, runs the health gate, and lets Fly's proxy idle it again.
alter table public.fly_rollouts add column if not exists wake boolean not null default false;
comment on column public.fly_rollouts.wake is
  'Whether the rollout starts idle machines (stopped or suspended by Fly''s proxy as their plan allows) to run '
  'the health gate on them (the proxy idles them again afterwards); false: they get the new config, stay '
  'down and count as applied (idle).';
