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
