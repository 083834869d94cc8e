-- Rollouts own a running machine's image and size (issue 9):
--   * private.get_desired_spec carries `rollout`: what an active rollout says the user should run now
--     (private.fly_rollout_spec_for_user), so a reconcile of a user whose batch has started converges to it,
--     and any other reconcile keeps the image and size the machine runs;
--   * a rollout that completes records its target in the scope's plans (fly_plans.image as image@digest
--     once a digest is pinned, and the size/region fields it sets), so the drift it fixed disappears and
--     new users get it; one that ends rolled back restores the plans it snapshotted at creation.

-- The desired spec of this wave (replaces 20261122000200's): the plan's volume and grace fields
-- (20261130000500), the current tier's grace, and `rollout` at the top level.
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
    'deprovision_grace_seconds', p.deprovision_grace_seconds,
    'rollout', private.fly_rollout_spec_for_user(p_user_id),
    'plan', case when coalesce(p.dedicated_app, false) then jsonb_build_object(
      'tier', p.tier, 'region', p.region, 'cpu_kind', p.cpu_kind, 'cpus', p.cpus, 'memory_mb', p.memory_mb,
      'image', p.image, 'public_services', p.public_services,
      'monthly_cost_estimate_usd', p.monthly_cost_estimate_usd,
      'volume_size_gb', p.volume_size_gb, 'volume_mount_path', p.volume_mount_path,
      'deprovision_grace_seconds', p.deprovision_grace_seconds) end)
  from (select p_user_id as uid) u
  left join public.user_subscriptions s on s.user_id = u.uid
  left join public.fly_plans p on p.tier = s.tier
  left join public.user_fly_apps a on a.user_id = u.uid
$$;
comment on function private.get_desired_spec(uuid) is
  'What the user should have right now, read from the CURRENT tier (so rapid flips collapse to the last): '
  '{user_id, tier (null: no subscription), desired_state present|absent, desired_generation (of the row, '
  'null: no row), deprovision_grace_seconds (of the current tier''s plan, null: the configured default), '
  'rollout (private.fly_rollout_spec_for_user: what an active rollout says the user runs now, or null), '
  'plan: {tier, region, cpu_kind, cpus, memory_mb, image (override or null), public_services, '
  'monthly_cost_estimate_usd, volume_size_gb, volume_mount_path (both null: no volume), '
  'deprovision_grace_seconds} or null}. The plan''s image and size are what a NEW machine gets; a running '
  'machine keeps its own unless the rollout says otherwise.';
revoke all on function private.get_desired_spec(uuid) from public, anon, authenticated;

create or replace function private.fly_rollout_record_in_plans() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.state = 'completed' then
    update public.fly_plans p set
      image = case
        when new.target ? 'image' and new.image_digest is not null
          then regexp_replace(split_part(new.target ->> 'image', '@', 1), ':[^:/]*$', '') || '@' || new.image_digest
        else coalesce(new.target ->> 'image', p.image) end,
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
revoke all on function private.fly_rollout_record_in_plans() from public, anon, authenticated;

drop trigger if exists fly_rollouts_record_in_plans on public.fly_rollouts;
create trigger fly_rollouts_record_in_plans
  after update of state on public.fly_rollouts
  for each row
  when (new.state in ('completed', 'rolled_back') and old.state is distinct from new.state)
  execute function private.fly_rollout_record_in_plans();
