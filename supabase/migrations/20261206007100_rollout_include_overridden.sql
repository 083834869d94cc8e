-- A rollout may include users whose image an operator pinned with an override (`ops rollout start
-- --include-overridden`): for them the rollout's image wins over the override's while the rollout covers
-- them. Without it (the default) those users are skipped (`skipped (overridden)`).

alter table public.fly_rollouts add column if not exists include_overridden boolean not null default false;
comment on column public.fly_rollouts.include_overridden is
  'Whether users with an image override are rolled out too (the rollout''s image wins for them); false: '
  'they are skipped.';

create or replace function private.fly_rollout_spec_for_user(p_user_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'rollout_id', r.id, 'state', r.state, 'direction', r.direction, 'target_state', t.state,
    'include_overridden', r.include_overridden,
    'spec', case
      when t.state in ('updating', 'healthy', 'failed')
        then r.target || jsonb_strip_nulls(jsonb_build_object('digest', r.image_digest))
      else t.previous end)
  from public.fly_rollout_targets t
  join public.fly_rollouts r on r.id = t.rollout_id
  where t.user_id = p_user_id and r.state in ('running', 'paused', 'halted')
  order by r.created_at desc
  limit 1
$$;
comment on function private.fly_rollout_spec_for_user(uuid) is
  'For a user an active rollout covers: {rollout_id, state, direction, target_state, include_overridden, '
  'spec} where spec is what the controller should converge the user to now (the target + pinned digest once '
  'the user''s batch got it, else the previous spec). Null when no active rollout covers the user.';

-- A completed rollout that included overridden users hands their image over to the plan: the image leaves
-- their override (the rest of it stays; an override left empty is cleared), recorded like any override change
-- with the rollout as the actor. Otherwise the next reconcile would put the pinned image back.
create or replace function private.release_rolled_out_image_overrides() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_override public.user_fly_app_overrides;
begin
  for v_override in
    select o.* from public.user_fly_app_overrides o
    join public.fly_rollout_targets t on t.user_id = o.user_id
    where t.rollout_id = new.id and t.state = 'healthy' and o.image is not null
  loop
    perform private.set_user_fly_app_override(v_override.user_id,
      jsonb_strip_nulls(jsonb_build_object('cpu_kind', v_override.cpu_kind, 'cpus', v_override.cpus,
        'memory_mb', v_override.memory_mb, 'region', v_override.region)),
      'rollout:' || new.id, 'the image was rolled out (--include-overridden)');
  end loop;
  return null;
end
$$;
comment on function private.release_rolled_out_image_overrides() is
  'Trigger: when a rollout with include_overridden completes forward, its healthy targets'' overrides lose '
  'their image (private.set_user_fly_app_override, actor rollout:<id>), so the plan''s image@digest holds.';
revoke all on function private.release_rolled_out_image_overrides() from public, anon, authenticated;

drop trigger if exists fly_rollouts_release_image_overrides on public.fly_rollouts;
create trigger fly_rollouts_release_image_overrides
  after update of state on public.fly_rollouts
  for each row
  when (new.state = 'completed' and old.state is distinct from 'completed' and new.include_overridden
        and new.direction = 'forward')
  execute function private.release_rolled_out_image_overrides();
