-- A user whose machine was created while a rollout ran (they became paid after it started, or their first
-- provisioning only succeeded after their target was skipped as not provisioned) got the image the plans held
-- before the rollout; the rollout then writes its image into the plans when it completes, and that machine
-- would stay behind until the next rollout. Before completing, the driver adopts such users as targets of a
-- last batch, so they are updated (and gated) like the others.

create or replace function private.adopt_late_fly_rollout_targets(p_rollout_id uuid, p_owner text)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
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
comment on function private.adopt_late_fly_rollout_targets(uuid, text) is
  'For the lease holder of a running forward rollout with no open target left: users of its scope whose '
  'machine exists but who are no target (their machine was created during the rollout) or were skipped as '
  'not provisioned become pending targets of one last batch (stage ''late''). Returns how many.';
revoke all on function private.adopt_late_fly_rollout_targets(uuid, text) from public, anon, authenticated;
