-- How a plan's volume data is kept, and the snapshots taken of users' volumes (issue 22).
--
-- * fly_plans.volume_snapshot_retention_days (1..60) and volume_auto_backup: set on the volume at create and
--   converged like the rest (null: Fly's defaults, 5 days and daily snapshots on).
-- * public.user_fly_volume_snapshots: one row per snapshot this system took of a user's volume (a final one
--   before every volume deletion; later ops ones), from the request (`requested`, no Fly id yet) to `created`
--   (with size and expiry). A re-upgrade restores the newest created one still within its retention.
--   Service side only: RLS on, no grants to anon or authenticated.

alter table public.fly_plans
  add column if not exists volume_snapshot_retention_days integer,
  add column if not exists volume_auto_backup boolean;
alter table public.fly_plans drop constraint if exists fly_plans_volume_snapshot_retention_check;
alter table public.fly_plans add constraint fly_plans_volume_snapshot_retention_check
  check (volume_snapshot_retention_days is null or volume_snapshot_retention_days between 1 and 60);
comment on column public.fly_plans.volume_snapshot_retention_days is
  'Days Fly keeps the snapshots of the tier''s volume (1..60; null: Fly''s default, 5). Also how long a '
  'downgraded user''s data can be restored after the volume is deleted.';
comment on column public.fly_plans.volume_auto_backup is
  'Whether Fly takes daily automatic snapshots of the tier''s volume (null: Fly''s default, on).';

create table if not exists public.user_fly_volume_snapshots (
  id bigint generated always as identity primary key,
  user_id uuid not null,
  app_name text not null,
  volume_id text not null,
  region text not null,
  snapshot_id text unique,
  reason text not null check (reason in ('final', 'ops')),
  status text not null default 'requested' check (status in ('requested', 'created', 'gone')),
  size_bytes bigint check (size_bytes is null or size_bytes >= 0),
  volume_size_gb integer check (volume_size_gb is null or volume_size_gb > 0),
  retention_days integer check (retention_days is null or retention_days between 1 and 60),
  requested_at timestamptz not null default now(),
  created_at timestamptz,
  expires_at timestamptz,
  constraint user_fly_volume_snapshots_created_complete check (
    status <> 'created' or (snapshot_id is not null and created_at is not null and expires_at is not null)
  )
);
comment on table public.user_fly_volume_snapshots is
  'Snapshots this system took of users'' volumes: reason final (before a deletion) or ops; status requested '
  '(asked of Fly, not yet found created), created (size, expiry), gone (Fly no longer has it). Written by '
  'the engine; restores read the newest created one within its retention.';
create index if not exists user_fly_volume_snapshots_user_idx
  on public.user_fly_volume_snapshots (user_id, created_at desc);
create index if not exists user_fly_volume_snapshots_volume_idx
  on public.user_fly_volume_snapshots (volume_id) where status = 'requested';
alter table public.user_fly_volume_snapshots enable row level security;
revoke all on public.user_fly_volume_snapshots from public, anon, authenticated;
grant all on public.user_fly_volume_snapshots to service_role;
