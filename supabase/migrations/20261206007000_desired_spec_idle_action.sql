-- The desired spec's plan carries the plan's idle_action (20261206003000), so the reconcile reads every
-- plan field from one place: private.get_desired_spec (same body as 20261206001000 plus that field).

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
      'deprovision_grace_seconds', p.deprovision_grace_seconds, 'idle_action', p.idle_action) end)
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
  'deprovision_grace_seconds, idle_action} or null}.';
