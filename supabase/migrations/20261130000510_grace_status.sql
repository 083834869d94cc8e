-- The status API of this wave (replaces 20261122000200's public.get_user_fly_app_status): a paid user without
-- a row yet wants an app and is not in sync; machine state, image, digest, drift and hold (the controller);
-- delete_after (when a suspended app is deleted), the volume id and the credential expiry, never the
-- credential (issue 14).

create or replace function public.get_user_fly_app_status(p_user_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select case when s.user_id is null and a.id is null then null else jsonb_build_object(
    'user_id', p_user_id,
    'tier', s.tier,
    'desired_state', coalesce(a.desired_state,
                              case when coalesce(p.dedicated_app, false) then 'present' else 'absent' end),
    'status', coalesce(a.status, 'none'),
    'in_sync', coalesce(a.in_sync, not coalesce(p.dedicated_app, false)),
    'health_status', a.health_status,
    'fly_app_name', a.fly_app_name,
    'region', a.region,
    'machine_id', a.machine_id,
    'machine_state', a.last_machine_state,
    'image', a.docker_image,
    'image_digest', a.image_digest,
    'drift', coalesce(a.drift, '{}'::jsonb),
    'cpu_kind', a.cpu_kind,
    'cpu_count', a.cpu_count,
    'memory_mb', a.memory_mb,
    'held', a.held_at is not null,
    'held_at', a.held_at,
    'delete_after', a.delete_after,
    'volume_id', a.volume_id,
    'credential_expires_at', a.credential_expires_at,
    'error_message', a.error_message,
    'retry_count', a.retry_count,
    'next_attempt_at', a.next_attempt_at,
    'deployed_at', a.deployed_at,
    'deleted_at', a.deleted_at,
    'last_health_check_at', a.last_health_check_at,
    'last_observed_at', a.last_observed_at,
    'updated_at', a.updated_at,
    'recent_events', coalesce((
      select jsonb_agg(jsonb_build_object('event_type', e.event_type, 'status', e.status,
                                          'created_at', e.created_at) order by e.seq desc)
      from (select * from public.user_fly_app_events e2 where e2.user_id = p_user_id
            order by e2.seq desc limit 10) e), '[]'::jsonb)
  ) end
  from (select p_user_id as uid) u
  left join public.user_subscriptions s on s.user_id = u.uid
  left join public.fly_plans p on p.tier = s.tier
  left join public.user_fly_apps a on a.user_id = u.uid
$$;
comment on function public.get_user_fly_app_status(uuid) is
  'Status of a user''s dedicated Fly app for the user (RLS: only their own) and ops: tier, desired_state '
  '(from the row, else from the tier: a paid user without a row wants an app), status, in_sync, health, '
  'machine state, image and digest, drift, size, hold, delete_after (end of a downgrade''s grace period), '
  'volume_id, credential_expires_at, error, timestamps and the last 10 events; null when '
  'nothing is visible. SECURITY INVOKER: what the caller may read is decided by RLS.';

revoke all on function public.get_user_fly_app_status(uuid) from public, anon;
grant execute on function public.get_user_fly_app_status(uuid) to authenticated, service_role;
