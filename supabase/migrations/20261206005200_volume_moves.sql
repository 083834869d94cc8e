-- Operator restores of a user's volume and their reverts, and recoveries from a lost host (issue 22): `ops restore USER [--snapshot ID]`
-- moves the user's machine onto a new volume made from a snapshot and keeps the old volume (detached) for
-- keep_days; `ops restore USER --revert` moves it back onto the kept volume. A recovery (requested by the
-- controller when the volume's host became unreachable, applied HOST_RECOVERY_AFTER_S later) moves the user
-- onto a new volume from the dead volume's latest snapshot. The engine applies a pending move
-- in its volume step (through the controller, like every change) and deletes a kept volume once its keep
-- period is over (after a final snapshot). A cron job makes such users due, so that happens on time.
--
-- Service side only: RLS on, no grants to anon or authenticated.

create table if not exists public.user_fly_volume_moves (
  id bigint generated always as identity primary key,
  user_id uuid not null,
  kind text not null check (kind in ('restore', 'revert', 'recovery')),
  snapshot_id text,
  from_volume_id text not null,
  to_volume_id text,
  keep_days integer not null default 7 check (keep_days between 1 and 60),
  requested_by text not null,
  reason text,
  state text not null default 'pending' check (state in ('pending', 'done', 'canceled')),
  requested_at timestamptz not null default now(),
  done_at timestamptz,
  keep_until timestamptz,
  kept_state text check (kept_state in ('kept', 'reverted', 'deleted')),
  kept_size_gb integer check (kept_size_gb is null or kept_size_gb > 0),
  constraint user_fly_volume_moves_restore_snapshot check (kind <> 'restore' or snapshot_id is not null),
  constraint user_fly_volume_moves_revert_target check (kind <> 'revert' or to_volume_id is not null),
  constraint user_fly_volume_moves_done check (
    state <> 'done' or (to_volume_id is not null and done_at is not null and keep_until is not null
                        and kept_state is not null)
  )
);
comment on table public.user_fly_volume_moves is
  'Operator restores (a new volume from snapshot_id), reverts (back onto the volume a restore kept) and '
  'recoveries from a lost host (requested_at: when the host was first seen unreachable): '
  'pending until the engine applied it, then done with the volume it left (from_volume_id) kept detached '
  'until keep_until (kept_state kept; kept_size_gb of storage, in usage), then deleted after a final '
  'snapshot, or reverted to.';
create unique index if not exists user_fly_volume_moves_one_pending
  on public.user_fly_volume_moves (user_id) where state = 'pending';
create index if not exists user_fly_volume_moves_kept
  on public.user_fly_volume_moves (keep_until) where kept_state = 'kept';
alter table public.user_fly_volume_moves enable row level security;
revoke all on public.user_fly_volume_moves from public, anon, authenticated;
grant all on public.user_fly_volume_moves to service_role;

create or replace function private.make_expired_kept_volumes_due() returns integer
language sql
security definer
set search_path = ''
as $$
  with due as (
    update public.user_fly_apps a set next_attempt_at = now()
    where a.user_id in (select m.user_id from public.user_fly_volume_moves m
                        where m.kept_state = 'kept' and m.keep_until <= now())
      and a.lease_owner is null and (a.next_attempt_at is null or a.next_attempt_at > now())
      and a.status not in ('deleted', 'error', 'failed')
    returning 1
  )
  select count(*)::integer from due
$$;
comment on function private.make_expired_kept_volumes_due() is
  'Makes the users whose kept volume''s keep period is over due now (the sweep reconciles them and the '
  'engine deletes the volume after a final snapshot); returns how many.';
revoke all on function private.make_expired_kept_volumes_due() from public, anon, authenticated, service_role;

do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('fly-kept-volumes-due', '*/5 * * * *',
                          'select private.make_expired_kept_volumes_due()');
  end if;
end
$$;
