-- A rollback restores each machine's previous image reference exactly as its row recorded it (found by the
-- property test: a canary rolled back onto `repo@sha256:…` instead of the `repo:latest` it ran before read as
-- image drift against its plan forever, though the rollout said `rolled_back`). The previous spec keeps its
-- digest for the record (status, the driver's claim); only what the controller converges to drops it, so a
-- tag stays a tag and a pinned reference stays pinned. Forward, the target is still pinned to the rollout's
-- digest once it has one.
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
      else t.previous - 'digest' end)
  from public.fly_rollout_targets t
  join public.fly_rollouts r on r.id = t.rollout_id
  where t.user_id = p_user_id and r.state in ('running', 'paused', 'halted')
  order by r.created_at desc
  limit 1
$$;
comment on function private.fly_rollout_spec_for_user(uuid) is
  'For a user an active rollout covers: {rollout_id, state, direction, target_state, include_overridden, '
  'spec} where spec is what the controller should converge the user to now: the target + pinned digest once '
  'the user''s batch got it, else the previous spec with the image reference exactly as the row recorded it '
  '(no digest: a rollback puts a tag back as the tag). Null when no active rollout covers the user.';
