-- Least privilege for the API roles (issue 26). supabase/tests/api_role_privileges_test.sql lists every
-- privilege anon, authenticated and PUBLIC hold on the project's schemas and compares it with the intended
-- list kept there.
--
-- 1. Sequences: Supabase's default privileges grant USAGE/SELECT/UPDATE on every new sequence to the API
--    roles, so `select setval('public.user_fly_app_events_seq_seq', 9223372036854775807)` as anon made every
--    event write fail. Revoked, and the default privileges of this schema with them (tables, functions too:
--    what end users may read is granted explicitly).
revoke all on all sequences in schema public from public, anon, authenticated;
revoke all on all sequences in schema private from public, anon, authenticated;
alter default privileges in schema public revoke all on sequences from anon, authenticated;
alter default privileges in schema public revoke all on tables from anon, authenticated;
alter default privileges in schema public revoke all on functions from anon, authenticated;

-- 2. Users read their own status through the columns meant for them: not operator notes (held_by,
--    hold_reason), lease owners and their history, secret versions and digests, the credential's key id, the
--    org. Column grants, so a column added later is not readable until granted here on purpose.
revoke select on public.user_fly_apps from authenticated;
grant select (
  id, user_id, fly_app_name, status, region, docker_image, cpu_count, memory_mb, machine_id, health_status,
  last_health_check_at, error_message, retry_count, deployed_at, deleted_at, monthly_cost_estimate_usd,
  created_at, updated_at, desired_state, desired_generation, observed_generation, next_attempt_at,
  image_digest, cpu_kind, drift, last_machine_state, last_observed_at, held_at, in_sync, delete_after,
  volume_id, credential_expires_at, desired_tier
) on public.user_fly_apps to authenticated;

-- Events: what happened and when, not the metadata (actor, reason, operator notes) nor error details.
revoke select on public.user_fly_app_events from authenticated;
grant select (id, fly_app_id, user_id, event_type, status, created_at, seq)
  on public.user_fly_app_events to authenticated;

-- The status read names only the event columns users may read (it read `*` before).
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
      from (select e2.event_type, e2.status, e2.created_at, e2.seq from public.user_fly_app_events e2
            where e2.user_id = p_user_id order by e2.seq desc limit 10) e), '[]'::jsonb)
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
  'nothing is visible. SECURITY INVOKER: what the caller may read is decided by RLS and the column grants (no operator notes, '
  'lease owners or event metadata).';
