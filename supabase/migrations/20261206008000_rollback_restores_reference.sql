-- A rollback puts each machine's previous image back by the reference its row recorded (found by the property
-- test: a canary rolled back onto `repo@sha256:…` instead of the `repo:latest` it ran before read as image
-- drift against its plan, under a rollout that said `rolled_back`). The user's spec now says whether it is
-- the previous one (`restores_previous`): the controller then applies the recorded reference as it was and
-- pins it to the recorded digest only when the tag resolves elsewhere now (a tag pushed again meanwhile), so
-- the machine always runs what it ran before.
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
    'restores_previous', t.state not in ('updating', 'healthy', 'failed'),
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
  'restores_previous, spec} where spec is what the controller should converge the user to now: the target + '
  'pinned digest once the user''s batch got it, else (restores_previous) the previous spec: its image '
  'reference as the row recorded it, held to the recorded digest. Null when no active rollout covers the user.';

-- A rollback target whose user's reconcile is refused for good is skipped as `refused` (rollout/driver.ts).
comment on column public.fly_rollout_targets.skip_reason is
  'skipped: why the target was left alone (not_provisioned, overridden; refused: a rollback whose previous '
  'spec the user''s reconcile refuses for good); healthy: held or idle (config applied to the stopped '
  'machine, no gate).';
