-- Dedicated Fly.io apps per paying user: the baseline schema (tables, constraints, indexes, RLS, grants).
--
-- THE BASELINE. The migrations of 2026-11-22..30 were folded into these files on 2026-12-06, before any
-- deployment existed: 20261206000100_schema.sql (this file), _engine_api, _tier_outbox, _ops, _rollouts and
-- _cron. Each table is created here once with its final columns, each function defined once in the file of
-- its concept. FROM HERE ON, EVERY CHANGE IS A NEW MIGRATION; never edit these files. supabase/schemas/ holds
-- the generated final state (`deno task schema:dump`).
--
-- Applies on an empty database and on a database that already has the seed system's `user_fly_apps` and
-- `user_fly_app_events` tables with rows: every statement is `if not exists`/additive, existing rows are
-- kept, and the new bookkeeping columns of existing rows are initialised from what the seed recorded. The
-- ALTERs below are that upgrade of the seed's tables (no-ops on an empty database).

create schema if not exists private;
comment on schema private is
  'Internal API of the Fly app provisioner (claims, outcomes, kicks). Not exposed through the Data API.';
revoke all on schema private from public, anon, authenticated;
alter default privileges in schema private revoke execute on functions from public;

-- pg_net and Vault exist on every Supabase project; locally scripts/local/standins provides the same objects
-- without the extensions, so only create an extension where it is actually installable.
create schema if not exists extensions;
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_net') then
    create extension if not exists pg_net with schema extensions;
  end if;
  if exists (select 1 from pg_available_extensions where name = 'supabase_vault') then
    create extension if not exists supabase_vault cascade;
  end if;
end
$$;

-- ---------------------------------------------------------------------------------------------------------
-- fly_plans: which tier gets a dedicated app, and its machine size.
create table if not exists public.fly_plans (
  tier text primary key check (tier in ('free', 'pro', 'elite')),
  dedicated_app boolean not null default false,
  region text,
  cpu_kind text check (cpu_kind in ('shared', 'performance')),
  cpus integer check (cpus > 0),
  memory_mb integer check (memory_mb >= 256),
  image text,
  public_services boolean not null default true,
  monthly_cost_estimate_usd numeric(10, 2),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  volume_size_gb integer,
  volume_mount_path text,
  deprovision_grace_seconds integer,
  constraint fly_plans_dedicated_needs_size check (
    not dedicated_app or (region is not null and cpu_kind is not null and cpus is not null and memory_mb is not null)
  ),
  constraint fly_plans_volume_size_check check (volume_size_gb is null or volume_size_gb between 1 and 500),
  constraint fly_plans_volume_mount_path_check
    check (volume_mount_path is null or (volume_mount_path ~ '^/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$'
                                        and volume_mount_path !~ '//|(^|/)\.\.?(/|$)')),
  constraint fly_plans_volume_complete_check check ((volume_size_gb is null) = (volume_mount_path is null)),
  constraint fly_plans_grace_check check (deprovision_grace_seconds is null or deprovision_grace_seconds >= 0)
);
comment on table public.fly_plans is
  'Tier -> whether the user gets a dedicated Fly app, and its region and guest size. image overrides the '
  'configured FLY_APP_IMAGE for that tier when set.';
comment on column public.fly_plans.volume_size_gb is
  'Size in GB (1..500) of the persistent volume the tier''s machine mounts; null: no volume. The engine '
  'extends the volume when this grows and refuses to shrink it.';
comment on column public.fly_plans.volume_mount_path is
  'Absolute path where the volume appears in the machine (e.g. /data); set together with volume_size_gb.';
comment on column public.fly_plans.deprovision_grace_seconds is
  'Seconds an app is kept (machine stopped, volume kept) when a user moves to this tier before it is deleted; '
  'null: the DEPROVISION_GRACE_SECONDS default. An upgrade within the grace starts the same machine again.';

insert into public.fly_plans (tier, dedicated_app, region, cpu_kind, cpus, memory_mb)
values ('free', false, null, null, null, null),
       ('pro', true, 'sin', 'shared', 2, 512),
       ('elite', true, 'sin', 'shared', 2, 512)
on conflict (tier) do nothing;

-- ---------------------------------------------------------------------------------------------------------
-- user_subscriptions: created only when the project does not have one yet (then RLS is ours too).
do $$
begin
  if to_regclass('public.user_subscriptions') is null then
    create table public.user_subscriptions (
      user_id uuid primary key references auth.users (id) on delete cascade,
      tier text not null default 'free' check (tier in ('free', 'pro', 'elite')),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    comment on table public.user_subscriptions is 'Billing tier per user; a change drives the Fly app.';
    alter table public.user_subscriptions enable row level security;
    revoke all on public.user_subscriptions from public, anon, authenticated;
    grant select on public.user_subscriptions to authenticated;
    grant all on public.user_subscriptions to service_role;
    create policy "users read their own subscription" on public.user_subscriptions
      for select to authenticated using (user_id = (select auth.uid()));
  end if;
end
$$;

-- ---------------------------------------------------------------------------------------------------------
-- user_fly_apps: one row per user, ever.
create table if not exists public.user_fly_apps (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  fly_app_name text,
  fly_org_slug text,
  status text not null default 'pending',
  region text,
  docker_image text,
  cpu_count integer,
  memory_mb integer,
  machine_id text,
  health_status text not null default 'unknown',
  last_health_check_at timestamptz,
  error_message text,
  retry_count integer not null default 0,
  deployed_at timestamptz,
  deleted_at timestamptz,
  monthly_cost_estimate_usd numeric(10, 2),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  desired_state text not null default 'present',
  desired_generation bigint not null default 0,
  observed_generation bigint not null default 0,
  next_attempt_at timestamptz,
  lease_owner text,
  lease_expires_at timestamptz,
  secrets_version bigint,
  secrets_digest text,
  image_digest text,
  cpu_kind text,
  drift jsonb not null default '{}'::jsonb,
  last_machine_state text,
  last_observed_at timestamptz,
  held_at timestamptz,
  held_by text,
  hold_reason text,
  -- In sync: every desired generation observed and no recorded drift. Derived, so it can never disagree.
  in_sync boolean generated always as (observed_generation >= desired_generation and drift = '{}'::jsonb) stored,
  delete_after timestamptz,
  volume_id text,
  credential_expires_at timestamptz,
  credential_key_id text,
  desired_tier text,
  lease_released_at timestamptz,
  lease_released_by text);

-- Seed-shaped tables may lack some of the seed columns the design lists; add them, then the new ones.
alter table public.user_fly_apps
  add column if not exists fly_org_slug text,
  add column if not exists region text,
  add column if not exists docker_image text,
  add column if not exists cpu_count integer,
  add column if not exists memory_mb integer,
  add column if not exists machine_id text,
  add column if not exists health_status text,
  add column if not exists last_health_check_at timestamptz,
  add column if not exists error_message text,
  add column if not exists retry_count integer,
  add column if not exists deployed_at timestamptz,
  add column if not exists deleted_at timestamptz,
  add column if not exists monthly_cost_estimate_usd numeric(10, 2),
  add column if not exists created_at timestamptz,
  add column if not exists updated_at timestamptz,
  add column if not exists desired_state text not null default 'present',
  add column if not exists desired_generation bigint not null default 0,
  add column if not exists observed_generation bigint not null default 0,
  add column if not exists next_attempt_at timestamptz,
  add column if not exists lease_owner text,
  add column if not exists lease_expires_at timestamptz,
  add column if not exists secrets_version bigint,
  add column if not exists secrets_digest text,
  add column if not exists image_digest text,
  add column if not exists cpu_kind text,
  add column if not exists drift jsonb not null default '{}'::jsonb,
  add column if not exists last_machine_state text,
  add column if not exists last_observed_at timestamptz,
  add column if not exists held_at timestamptz,
  add column if not exists held_by text,
  add column if not exists hold_reason text,
  add column if not exists in_sync boolean generated always as (observed_generation >= desired_generation and drift = '{}'::jsonb) stored,
  add column if not exists delete_after timestamptz,
  add column if not exists volume_id text,
  add column if not exists credential_expires_at timestamptz,
  add column if not exists credential_key_id text,
  add column if not exists desired_tier text,
  add column if not exists lease_released_at timestamptz,
  add column if not exists lease_released_by text;

update public.user_fly_apps set retry_count = 0 where retry_count is null;
-- A health value the seed system wrote that the vocabulary does not know means nothing was judged yet.
update public.user_fly_apps set health_status = 'unknown'
where health_status is null or health_status not in ('healthy', 'unhealthy', 'starting', 'unknown');
update public.user_fly_apps set created_at = now() where created_at is null;
update public.user_fly_apps set updated_at = coalesce(created_at, now()) where updated_at is null;
alter table public.user_fly_apps
  alter column id set default gen_random_uuid(),
  alter column status set default 'pending',
  alter column health_status set default 'unknown',
  alter column health_status set not null,
  alter column retry_count set default 0,
  alter column retry_count set not null,
  alter column created_at set default now(),
  alter column created_at set not null,
  alter column updated_at set default now(),
  alter column updated_at set not null;

-- The trigger creates a row before the engine has chosen a name, region or size: any other NOT NULL
-- column without a default (seed tables had e.g. fly_app_name NOT NULL) would make the user's UPDATE fail.
do $$
declare
  col record;
begin
  for col in
    select a.attname from pg_attribute a
    where a.attrelid = 'public.user_fly_apps'::regclass and a.attnum > 0 and not a.attisdropped
      and a.attnotnull and not a.atthasdef and a.attname not in ('id', 'user_id')
  loop
    execute format('alter table public.user_fly_apps alter column %I drop not null', col.attname);
  end loop;
end
$$;

-- The row must outlive the auth user: deleting a user deletes the subscription, whose trigger asks for the
-- app to be deprovisioned, and the engine needs the row (app name) to do that. A seed FK to auth.users with
-- ON DELETE CASCADE would silently drop the row and orphan the paid Fly app.
do $$
declare
  fk record;
begin
  for fk in
    select c.conrelid::regclass as tbl, c.conname from pg_constraint c
    where c.contype = 'f' and c.confrelid = 'auth.users'::regclass
      and c.conrelid in ('public.user_fly_apps'::regclass)
  loop
    execute format('alter table %s drop constraint %I', fk.tbl, fk.conname);
  end loop;
end
$$;

-- ---------------------------------------------------------------------------------------------------------
-- user_fly_app_events: append-only audit log.
create table if not exists public.user_fly_app_events (
  id uuid primary key default gen_random_uuid(),
  fly_app_id uuid references public.user_fly_apps (id) on delete cascade,
  user_id uuid not null,
  event_type text not null,
  status text not null default 'info',
  metadata jsonb not null default '{}'::jsonb,
  error_details text,
  created_at timestamptz not null default clock_timestamp(),
  -- Strict order of events, also within one transaction (created_at ties there).
  seq bigint generated by default as identity
);
alter table public.user_fly_app_events
  add column if not exists fly_app_id uuid,
  add column if not exists status text,
  add column if not exists metadata jsonb,
  add column if not exists error_details text,
  add column if not exists created_at timestamptz,
  -- Strict order of events, also within one transaction (created_at ties there).
  add column if not exists seq bigint generated by default as identity;

do $$
begin
  -- The API writes error_details as text; a seed column of another type (jsonb) is converted, keeping values.
  if (select atttypid::regtype::text from pg_attribute
      where attrelid = 'public.user_fly_app_events'::regclass and attname = 'error_details') <> 'text' then
    alter table public.user_fly_app_events alter column error_details type text using error_details::text;
  end if;
  if (select atttypid::regtype::text from pg_attribute
      where attrelid = 'public.user_fly_app_events'::regclass and attname = 'metadata') <> 'jsonb' then
    alter table public.user_fly_app_events alter column metadata type jsonb using to_jsonb(metadata);
  end if;
end
$$;

update public.user_fly_app_events set metadata = '{}'::jsonb where metadata is null;
update public.user_fly_app_events set status = 'info' where status is null;
update public.user_fly_app_events set created_at = now() where created_at is null;
alter table public.user_fly_app_events
  alter column id set default gen_random_uuid(),
  alter column status set default 'info',
  alter column status set not null,
  alter column metadata set default '{}'::jsonb,
  alter column metadata set not null,
  alter column created_at set default clock_timestamp(),
  alter column created_at set not null;

do $$
declare
  fk record;
begin
  -- Same reason as above: the audit log of a deleted user's app must survive (and the trigger writes an
  -- event for the user while auth.users is deleting them, which such an FK would reject).
  for fk in
    select c.conrelid::regclass as tbl, c.conname from pg_constraint c
    where c.contype = 'f' and c.confrelid = 'auth.users'::regclass
      and c.conrelid = 'public.user_fly_app_events'::regclass
  loop
    execute format('alter table %s drop constraint %I', fk.tbl, fk.conname);
  end loop;
  -- Events point at their app row.
  if not exists (select 1 from pg_constraint where contype = 'f'
                 and conrelid = 'public.user_fly_app_events'::regclass
                 and confrelid = 'public.user_fly_apps'::regclass) then
    alter table public.user_fly_app_events
      add constraint user_fly_app_events_fly_app_id_fkey
      foreign key (fly_app_id) references public.user_fly_apps (id) on delete cascade;
  end if;
end
$$;

-- ---------------------------------------------------------------------------------------------------------
-- Existing rows: one row per user. The seed could hold several rows for a user (a new row per
-- re-provisioning); keep the best one, archive the others (their full content, in private), and point their
-- events at the survivor.
create table if not exists private.user_fly_apps_archive (
  id uuid primary key,
  user_id uuid not null,
  kept_id uuid not null,
  row_data jsonb not null,
  archived_at timestamptz not null default now()
);
comment on table private.user_fly_apps_archive is
  'Duplicate per-user rows of the seed system, archived when the one-row-per-user rule was introduced. '
  'Their fly_app_name may still exist in Fly: the health sweep reports such apps as orphans.';

with ranked as (
  select a.id, a.user_id,
         first_value(a.id) over (
           partition by a.user_id
           order by (a.deleted_at is null) desc, (a.status = 'active') desc, a.created_at desc, a.id
         ) as kept_id
  from public.user_fly_apps a
),
dups as (
  select r.id, r.user_id, r.kept_id from ranked r where r.id <> r.kept_id
),
archived as (
  insert into private.user_fly_apps_archive (id, user_id, kept_id, row_data)
  select d.id, d.user_id, d.kept_id, to_jsonb(a) from dups d join public.user_fly_apps a on a.id = d.id
  returning id, user_id, kept_id, row_data
),
repointed as (
  update public.user_fly_app_events e set fly_app_id = ar.kept_id
  from archived ar where e.fly_app_id = ar.id
  returning e.id
)
insert into public.user_fly_app_events (fly_app_id, user_id, event_type, status, metadata)
select ar.kept_id, ar.user_id, 'duplicate_row_archived', 'warning',
       jsonb_build_object('archived_id', ar.id, 'fly_app_name', ar.row_data ->> 'fly_app_name',
                          'status', ar.row_data ->> 'status')
from archived ar;

delete from public.user_fly_apps a using private.user_fly_apps_archive ar where a.id = ar.id;

create unique index if not exists user_fly_apps_user_id_key on public.user_fly_apps (user_id);
do $$
begin
  if not exists (
    select 1 from pg_index i
    where i.indrelid = 'public.user_fly_apps'::regclass and i.indisunique and i.indnatts = 1
      and i.indkey[0] = (select attnum from pg_attribute
                         where attrelid = 'public.user_fly_apps'::regclass and attname = 'fly_app_name')
  ) then
    create unique index user_fly_apps_fly_app_name_key on public.user_fly_apps (fly_app_name);
  end if;
end
$$;

-- Statuses. Seed values are mapped onto the new set; the original value is kept in an event.
with legacy as (
  select a.id, a.user_id, a.status as legacy_status,
         case
           when a.status = 'deleting' then 'deprovisioning'
           when a.deleted_at is not null then 'deleted'
           else 'pending'
         end as new_status
  from public.user_fly_apps a
  where a.status is null
     or a.status not in ('pending', 'provisioning', 'active', 'held', 'suspended', 'failed', 'error',
                         'deprovisioning', 'deleted')
),
changed as (
  update public.user_fly_apps a set status = l.new_status from legacy l where a.id = l.id
  returning a.id
)
insert into public.user_fly_app_events (fly_app_id, user_id, event_type, status, metadata)
select l.id, l.user_id, 'status_migrated', 'info',
       jsonb_build_object('legacy_status', l.legacy_status, 'status', l.new_status)
from legacy l join changed c on c.id = l.id;

alter table public.user_fly_apps alter column status set not null;

-- Initialise desired state of rows that predate this migration (desired_generation = 0 marks them): from the
-- user's current tier when there is a subscription row, else from what the seed recorded. Rows that already
-- match are marked converged; the others are due at once, so the sweep picks them up.
with init as (
  select a.id,
         case
           when s.user_id is not null and p.dedicated_app then 'present'
           when s.user_id is not null then 'absent'
           when a.deleted_at is not null or a.status in ('deleted', 'deprovisioning') then 'absent'
           else 'present'
         end as desired
  from public.user_fly_apps a
  left join public.user_subscriptions s on s.user_id = a.user_id
  left join public.fly_plans p on p.tier = s.tier
  where a.desired_generation = 0
)
update public.user_fly_apps a
set desired_state = i.desired,
    desired_generation = 1,
    observed_generation = case
      when (i.desired = 'present' and a.status = 'active') or (i.desired = 'absent' and a.status = 'deleted')
        then 1 else 0 end,
    next_attempt_at = case
      when (i.desired = 'present' and a.status = 'active') or (i.desired = 'absent' and a.status = 'deleted')
        then null else now() end
from init i
where a.id = i.id;

-- desired_tier: the tier the desired state was recorded for (private._apply_desired_state keeps it).
update public.user_fly_apps a set desired_tier = s.tier
from public.user_subscriptions s
where s.user_id = a.user_id and a.desired_tier is distinct from s.tier;

do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'user_fly_apps_desired_state_check'
                 and conrelid = 'public.user_fly_apps'::regclass) then
    alter table public.user_fly_apps add constraint user_fly_apps_desired_state_check
      check (desired_state in ('present', 'absent'));
  end if;
  if not exists (select 1 from pg_constraint where conname = 'user_fly_apps_generations_check'
                 and conrelid = 'public.user_fly_apps'::regclass) then
    alter table public.user_fly_apps add constraint user_fly_apps_generations_check
      check (desired_generation >= 0 and observed_generation >= 0 and retry_count >= 0);
  end if;
  if not exists (select 1 from pg_constraint where conname = 'user_fly_apps_cpu_kind_check'
                 and conrelid = 'public.user_fly_apps'::regclass) then
    alter table public.user_fly_apps add constraint user_fly_apps_cpu_kind_check
      check (cpu_kind is null or cpu_kind in ('shared', 'performance'));
  end if;
end
$$;
-- Replaces a seed table's own status check: a held app (ops keep its machine stopped) and a suspended one
-- (downgrade grace period) besides the lifecycle.
alter table public.user_fly_apps drop constraint if exists user_fly_apps_status_check;
alter table public.user_fly_apps add constraint user_fly_apps_status_check
  check (status in ('pending', 'provisioning', 'active', 'held', 'suspended', 'failed', 'error',
                    'deprovisioning', 'deleted'));
alter table public.user_fly_apps drop constraint if exists user_fly_apps_health_status_check;
alter table public.user_fly_apps add constraint user_fly_apps_health_status_check
  check (health_status in ('healthy', 'unhealthy', 'starting', 'unknown'));
alter table public.user_fly_apps drop constraint if exists user_fly_apps_drift_is_object;
alter table public.user_fly_apps add constraint user_fly_apps_drift_is_object
  check (jsonb_typeof(drift) = 'object');
alter table public.user_fly_apps drop constraint if exists user_fly_apps_hold_check;
alter table public.user_fly_apps add constraint user_fly_apps_hold_check
  check (held_at is not null or (held_by is null and hold_reason is null));

-- Indexes the sweeps need: due work, and the stalest health check among active apps.
create index if not exists user_fly_apps_due_idx
  on public.user_fly_apps (next_attempt_at) where next_attempt_at is not null;
create index if not exists user_fly_apps_health_idx
  on public.user_fly_apps (last_health_check_at nulls first)
  where status = 'active' and desired_state = 'present';
create index if not exists user_fly_app_events_user_idx on public.user_fly_app_events (user_id, seq);
create index if not exists user_fly_app_events_app_idx on public.user_fly_app_events (fly_app_id, seq);

comment on table public.user_fly_apps is
  'One row per user, ever: desired state (from the tier, written by the on_user_tier_change trigger) and '
  'observed state of the user''s dedicated Fly app. A downgrade marks the row deleted; an upgrade reactivates '
  'it. Written only through the private.* API (service side).';
comment on column public.user_fly_apps.status is
  'pending | provisioning | active | failed (retryable, see next_attempt_at) | error (permanent) | '
  'deprovisioning | deleted';
comment on column public.user_fly_apps.desired_state is 'present | absent, from the current tier''s plan';
comment on column public.user_fly_apps.desired_generation is 'Bumped by every tier change';
comment on column public.user_fly_apps.observed_generation is
  'Highest desired_generation a reconcile has converged Fly to; < desired_generation means work is pending';
comment on column public.user_fly_apps.next_attempt_at is
  'When the row is due for a reconcile (null: nothing to do). Set to now() by a tier change, to a backoff '
  'time by a retryable failure, cleared by success and by a permanent failure';
comment on column public.user_fly_apps.lease_owner is 'Reconciler currently holding the row (see lease_expires_at)';
comment on column public.user_fly_apps.secrets_version is 'Fly secrets version to pass as min_secrets_version';
comment on column public.user_fly_apps.secrets_digest is
  'SHA-256 over the names and values of the secrets last set on the app (drift detection); never a value';
comment on table public.user_fly_app_events is
  'Append-only audit log of everything done to a user''s Fly app; ordered by seq. Never holds secret values.';
comment on column public.user_fly_apps.drift is
  'Spec drift of the app found by the last observation: {field: {desired, observed}} (empty: none).';
comment on column public.user_fly_apps.in_sync is
  'Generated: false while the row has unobserved desired generations or recorded drift.';
comment on column public.user_fly_apps.last_machine_state is
  'Machine state seen by the last fleet observation (started, stopped, ..., missing).';
comment on column public.user_fly_apps.held_at is
  'Set while ops hold the user''s machine stopped (the sweep reports it and does not repair it).';
comment on column public.user_fly_apps.delete_after is
  'End of the grace period of a downgraded (suspended) app: the sweep deletes it after this time.';
comment on column public.user_fly_apps.volume_id is
  'Fly volume id (vol_...) of the app''s persistent volume, if its plan has one.';
comment on column public.user_fly_apps.credential_expires_at is
  'Expiry of the scoped user credential held in the app''s secrets (the token itself is never stored).';
comment on column public.user_fly_apps.credential_key_id is
  'Id of the key that signed the app''s credential (kid, or a fingerprint of the legacy secret).';
comment on column public.user_fly_apps.desired_tier is
  'The tier desired_state was last recorded for (null: no subscription). Written only by '
  'private._apply_desired_state; compared with user_subscriptions.tier to find changes a bulk marker stands for.';
comment on column public.user_fly_apps.lease_released_at is
  'When the last lease holder let go of the row (released it, or lost it to a takeover after it expired).';
comment on column public.user_fly_apps.lease_released_by is
  'The lease owner that let go at lease_released_at (a function invocation, the sweep or an ops call).';

-- Row level security and grants. A user reads only their own app row and events; anon reads nothing;
-- nobody but the service side (service_role, and the database owner the engine connects as) writes.
-- Supabase grants everything in public to anon/authenticated by default privileges: revoke explicitly.

alter table public.user_fly_apps enable row level security;
alter table public.user_fly_app_events enable row level security;
alter table public.fly_plans enable row level security;

revoke all on public.user_fly_apps, public.user_fly_app_events, public.fly_plans from public, anon, authenticated;
grant select on public.user_fly_apps, public.user_fly_app_events, public.fly_plans to authenticated;
grant all on public.user_fly_apps, public.user_fly_app_events, public.fly_plans to service_role;
revoke update, delete, truncate on public.user_fly_app_events from service_role;

drop policy if exists "users read their own fly app" on public.user_fly_apps;
create policy "users read their own fly app" on public.user_fly_apps
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "users read their own fly app events" on public.user_fly_app_events;
create policy "users read their own fly app events" on public.user_fly_app_events
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "signed-in users read plans" on public.fly_plans;
create policy "signed-in users read plans" on public.fly_plans
  for select to authenticated using (true);

-- The archive of seed duplicates lives in private; keep it away from the API roles too.
alter table private.user_fly_apps_archive enable row level security;
revoke all on private.user_fly_apps_archive from public, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------------------
-- Sweep runs (the controller).
create table if not exists public.fly_sweep_runs (
  id bigint generated always as identity primary key,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  duration_ms integer,
  budget_ms integer not null check (budget_ms > 0),
  stopped_early boolean not null default false,
  error text,
  report jsonb not null default '{}'::jsonb
);
create index if not exists fly_sweep_runs_started_at_idx on public.fly_sweep_runs (started_at desc);
comment on table public.fly_sweep_runs is
  'One row per health sweep: when, how long, whether it stopped early, its full report (jsonb), error.';
alter table public.fly_sweep_runs enable row level security;
revoke all on public.fly_sweep_runs from public, anon, authenticated;
grant all on public.fly_sweep_runs to service_role;

-- ---------------------------------------------------------------------------------------------------------
-- The tier outbox (private.drain_tier_outbox consumes it; see the tier_outbox migration).
-- Tier changes through a durable outbox (replaces the direct trigger of 20261122000300):
--
--   * In the user's transaction the triggers only append one narrow row (user_id, queued_at) to the
--     index-free, logged table private.tier_outbox: no Vault read, no HTTP, no event, no subtransaction.
--     A committed change is never lost; a rolled-back one leaves nothing.
--   * private.drain_tier_outbox() (pg_cron every second, the local platform's drainer, the health sweep)
--     takes a batch, reads each user's CURRENT tier, records the desired state through
--     private._apply_desired_state (the one place for the tier -> desired state rule), writes one event per
--     user, reads Vault once and queues ONE request per batch: POST {user_ids} to provision-user-fly-app,
--     which reconciles whatever each user's current tier says.
--   * private.tier_outbox_oldest_age_s() tells the sweep how far behind the outbox is (alerting).
--
-- Postgres does not allow a WHEN clause that reads OLD on a trigger that also fires on INSERT, so the
-- UPDATE OF tier trigger (with WHEN) and the INSERT/DELETE trigger are two triggers on one function.
-- Everything here runs as the non-superuser database owner (no superuser-only statement).

create table if not exists private.tier_outbox (
  user_id uuid,
  queued_at timestamptz not null default now()
) with (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0);
comment on table private.tier_outbox is
  'Tier changes not yet turned into desired state: one row per changed subscription row, appended by the '
  'tier triggers in the user''s transaction, consumed by private.drain_tier_outbox(). No index on purpose '
  '(each index would be one more write per change); the drainer reads it by sequential scan and deletes by '
  'ctid, and it stays small because it is drained every second.';
comment on column private.tier_outbox.user_id is
  'The user whose tier changed; null for a bulk marker: a transaction changed more tiers than the trigger '
  'queues one by one, and the drainer works off private.users_with_unrecorded_tier() until it is empty.';
alter table private.tier_outbox enable row level security;
revoke all on private.tier_outbox from public, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------------------
-- Fly rate-limit buckets (private.take_rate_tokens).
--
-- Hosted Supabase runs a function in several isolates at once, each with its own in-process rate limiter, so
-- limits that Fly counts per organisation or per token (app creates, app deletions) must be drawn from one
-- bucket that all of them see. private.take_rate_tokens is that bucket: an atomic token bucket with
-- reservation, one row per bucket, updated by one statement.
--
-- The table is UNLOGGED: a bucket is a few seconds of state. Skipping the WAL makes every take cheaper (no
-- WAL record, no replication traffic, nothing for backups), and what a crash or failover costs is that
-- the table comes back empty, so every bucket starts full again: at most one extra burst, the same as when
-- every function instance restarts with a fresh in-process limiter.

-- Fly rate-limit buckets shared by every function instance (issue 12, item 3).
--
-- Hosted Supabase runs a function in several isolates at once, each with its own in-process rate limiter, so
-- limits that Fly counts per organisation or per token (app creates, app deletions) must be drawn from one
-- bucket that all of them see. private.take_rate_tokens is that bucket: an atomic token bucket with
-- reservation, one row per bucket, updated by one statement.
--
-- The table is UNLOGGED: a bucket is a few seconds of state. Skipping the WAL makes every take cheaper (no
-- WAL record, no replication traffic, nothing for backups), and what a crash or failover costs is that
-- the table comes back empty, so every bucket starts full again: at most one extra burst, the same as when
-- every function instance restarts with a fresh in-process limiter.

create unlogged table if not exists private.fly_rate_buckets (
  bucket text primary key check (bucket <> ''),
  -- May go negative: tokens reserved ahead of time by callers that are still waiting for them.
  tokens double precision not null,
  refilled_at timestamptz not null
) with (fillfactor = 50);
comment on table private.fly_rate_buckets is
  'Token buckets shared by every function instance (private.take_rate_tokens). Unlogged: lost on a crash, '
  'which only refills every bucket.';
alter table private.fly_rate_buckets enable row level security;
revoke all on private.fly_rate_buckets from public, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------------------
-- Prices, and running time per user and day (ops).
-- ---------------------------------------------------------------------------------------------------------
-- Prices.
create table if not exists public.fly_prices (
  item text primary key check (item in ('cpu_shared', 'cpu_performance', 'memory_gb', 'ipv4_dedicated',
                                        'volume_gb', 'rootfs_gb')),
  monthly_usd numeric(10, 4) not null check (monthly_usd >= 0),
  included_memory_mb_per_cpu integer check (included_memory_mb_per_cpu >= 0),
  description text not null,
  source text not null,
  updated_at timestamptz not null default now()
);
comment on table public.fly_prices is
  'Fly.io prices per 30 days of running (USD), editable by ops: one CPU of each kind with the memory it '
  'includes, additional memory per GB, a dedicated IPv4 address, a volume GB, a stopped machine''s root '
  'file system GB. Changing a price recomputes monthly_cost_estimate_usd of every plan and row.';
-- Seeded from Fly's published prices, https://fly.io/docs/about/pricing/ (read 2026-11-30; the base prices
-- Fly lists for Machines: shared-cpu-1x 256 MB $1.94/mo, performance-1x 2 GB $31.00/mo, additional RAM
-- $5.00/GB per 30 days, dedicated IPv4 $2.00/mo, volumes $0.15/GB per month). Some regions cost more (sin
-- among them); ops edit the rows to their region's figures. Existing rows (edited by ops) are kept.
insert into public.fly_prices (item, monthly_usd, included_memory_mb_per_cpu, description, source)
values
  ('cpu_shared', 1.94, 256, 'one shared vCPU with 256 MB, per 30 days running',
   'https://fly.io/docs/about/pricing/ (2026-11-30)'),
  ('cpu_performance', 31.00, 2048, 'one performance vCPU with 2 GB, per 30 days running',
   'https://fly.io/docs/about/pricing/ (2026-11-30)'),
  ('memory_gb', 5.00, null, 'memory above what the CPUs include, per GB per 30 days running',
   'https://fly.io/docs/about/pricing/ (2026-11-30)'),
  ('ipv4_dedicated', 2.00, null, 'one dedicated IPv4 address per month (shared IPv4 and IPv6 are free)',
   'https://fly.io/docs/about/pricing/ (2026-11-30)'),
  ('volume_gb', 0.15, null, 'volume storage per GB per month', 'https://fly.io/docs/about/pricing/ (2026-11-30)'),
  ('rootfs_gb', 0.15, null,
   'root file system of a stopped machine per GB per 30 days (estimates count 1 GB a machine)',
   'https://fly.io/docs/about/pricing/ (2026-11-30)')
on conflict (item) do nothing;
alter table public.fly_prices enable row level security;
revoke all on public.fly_prices from public, anon, authenticated;
grant all on public.fly_prices to service_role;
-- ---------------------------------------------------------------------------------------------------------
-- Runtime from observed machine states.
create table if not exists public.user_fly_app_usage_daily (
  user_id uuid not null,
  day date not null,
  running_seconds integer not null default 0 check (running_seconds between 0 and 86400),
  observations integer not null default 0 check (observations >= 0),
  updated_at timestamptz not null default now(),
  primary key (user_id, day)
);
comment on table public.user_fly_app_usage_daily is
  'Running time of each user''s machine per UTC day, accumulated by private.record_machine_observations '
  'from successive observed states (the time between two observations counts as running when the earlier '
  'one saw the machine started, up to a maximum gap).';
alter table public.user_fly_app_usage_daily enable row level security;
revoke all on public.user_fly_app_usage_daily from public, anon, authenticated;
grant select on public.user_fly_app_usage_daily to authenticated;
grant all on public.user_fly_app_usage_daily to service_role;
drop policy if exists "users read their own usage" on public.user_fly_app_usage_daily;
create policy "users read their own usage" on public.user_fly_app_usage_daily
  for select to authenticated using (user_id = (select auth.uid()));
create table if not exists private.machine_last_observations (
  machine_id text primary key,
  user_id uuid not null,
  state text not null,
  observed_at timestamptz not null
);
comment on table private.machine_last_observations is
  'Last observed state per machine: where private.record_machine_observations resumes.';
alter table private.machine_last_observations enable row level security;
revoke all on private.machine_last_observations from public, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------------------
-- Fleet rollouts (functions in the rollouts migration).
-- Fleet rollouts: a durable record of an image and/or plan change going out to the users' machines in
-- batches (canaries first), with its per-user progress, so that progress is observable at any moment and a
-- function restart resumes where the last one stopped.
--
-- Storage primitives only; the rollout driver (supabase/functions/_shared/reconcile/rollout.ts) decides
-- when to halt, complete or pin:
--   * private.create_fly_rollout(request, actor): validates, snapshots each target's previous spec, batches;
--   * private.transition_fly_rollout(id, action, actor, reason, error): start, pause, resume, abort, rollback,
--     halt, complete; idempotent; every change is a fly_rollout_events row with its actor;
--   * private.lease_fly_rollouts / release_fly_rollout: one driver per rollout at a time;
--   * private.claim_fly_rollout_targets / record_fly_rollout_target: next targets of the current batch and
--     their outcomes (counters recomputed, one user_fly_app_events row per machine);
--   * private.pin_fly_rollout_digest: the first writer's digest wins;
--   * private.fly_rollout_spec_for_user: what the controller should apply to a user a rollout covers.
--
-- Errors callers map to HTTP: 22023 bad input (the message starts with the field), 23505 another active
-- rollout for an overlapping scope, 55000 an action the current state does not allow, P0002 no such rollout,
-- and 55000 lease_not_held (hint says so) when another driver holds the rollout.

create table if not exists public.fly_rollouts (
  id uuid primary key default gen_random_uuid(),
  -- Scope: one tier, or every tier with a dedicated app (null).
  tier text references public.fly_plans (tier),
  -- What changes: {image?, region?, cpu_kind?, cpus?, memory_mb?, env?, checks?} over the user's plan.
  target jsonb not null,
  canary_count integer not null default 1 check (canary_count >= 0),
  batch_size integer not null check (batch_size > 0),
  max_unavailable numeric check (max_unavailable > 0 and max_unavailable <= 1),
  health_timeout_s integer not null default 300 check (health_timeout_s > 0),
  max_failures integer not null default 0 check (max_failures >= 0),
  state text not null default 'pending'
    check (state in ('pending', 'running', 'paused', 'halted', 'completed', 'aborted', 'rolled_back')),
  -- forward: applying target; rollback: applying each updated target's previous spec.
  direction text not null default 'forward' check (direction in ('forward', 'rollback')),
  total integer not null default 0,
  updated integer not null default 0,
  healthy integer not null default 0,
  failed integer not null default 0,
  rolled_back integer not null default 0,
  rollback_failed integer not null default 0,
  -- The canary batch (0): failed targets, and targets not done yet (the gate: canaries done, none failed).
  canaries_failed integer not null default 0,
  canaries_open integer not null default 0,
  image_digest text check (image_digest ~ '^sha256:[0-9a-f]{64}$'),
  -- The target's image pinned to image_digest (`registry/app@sha256:…`), as the rollout driver wrote it:
  -- what a completed rollout writes into the plans (image references are parsed in TypeScript only).
  pinned_image text check (pinned_image is null or (image_digest is not null and pinned_image like '%@' || image_digest)),
  -- The plans of the scope's tiers when the rollout was created: {tier: {region, cpu_kind, ...}}.
  previous_spec jsonb not null default '{}'::jsonb,
  created_by text not null,
  reason text,
  error text,
  lease_owner text,
  lease_expires_at timestamptz,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz not null default now(),
  constraint fly_rollouts_target_is_object check (jsonb_typeof(target) = 'object' and target <> '{}'::jsonb)
);
comment on table public.fly_rollouts is
  'One fleet rollout: target (image and/or plan fields), scope (tier, null = all), strategy (canaries, batch '
  'size, health gate, max failures), state, counters, the pinned image digest, who started it and why.';
comment on column public.fly_rollouts.state is
  'pending | running | paused | halted (failures beyond max_failures; resume retries, rollback undoes) | '
  'completed | aborted | rolled_back';
comment on column public.fly_rollouts.image_digest is
  'Digest Fly reported for the first successful update; every later machine gets image@digest.';
comment on column public.fly_rollouts.updated is 'Targets the target spec was applied to (healthy + failed)';
-- At most one active rollout per scope (overlap of "all tiers" with one tier is refused by the create
-- function, under a lock; this index is the backstop for the same scope).
create unique index if not exists fly_rollouts_one_active_per_scope
  on public.fly_rollouts ((coalesce(tier, '*')))
  where state in ('pending', 'running', 'paused', 'halted');
create index if not exists fly_rollouts_created_at_idx on public.fly_rollouts (created_at desc);
create table if not exists public.fly_rollout_targets (
  rollout_id uuid not null references public.fly_rollouts (id) on delete cascade,
  user_id uuid not null,
  -- 0: the canaries; then 1, 2, ... in order.
  batch integer not null check (batch >= 0),
  state text not null default 'pending'
    check (state in ('pending', 'updating', 'healthy', 'failed', 'rolling_back', 'rolled_back', 'rollback_failed')),
  attempts integer not null default 0,
  -- What the user's machine ran before: {image, digest, region, cpu_kind, cpus, memory_mb} (nulls dropped).
  previous jsonb not null default '{}'::jsonb,
  image_digest text,
  error text,
  updated_at timestamptz not null default now(),
  primary key (rollout_id, user_id)
);
create index if not exists fly_rollout_targets_batch_idx on public.fly_rollout_targets (rollout_id, batch, state);
create index if not exists fly_rollout_targets_user_idx on public.fly_rollout_targets (user_id);
comment on table public.fly_rollout_targets is
  'Per-user progress of a rollout: batch, state (pending | updating | healthy | failed | rolling_back | '
  'rolled_back | rollback_failed), attempts, the previous spec for rollback, the digest it got, last error.';
create table if not exists public.fly_rollout_events (
  seq bigint generated always as identity primary key,
  rollout_id uuid not null references public.fly_rollouts (id) on delete cascade,
  event_type text not null,
  actor text not null,
  from_state text,
  to_state text,
  reason text,
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default clock_timestamp()
);
create index if not exists fly_rollout_events_rollout_idx on public.fly_rollout_events (rollout_id, seq);
comment on table public.fly_rollout_events is
  'Append-only: every state change of a rollout (created, started, paused, resumed, halted, aborted, '
  'rollback_started, completed, rolled_back, digest_pinned) with its actor.';
-- RLS like the other tables: only the service side reads and writes (ops data, no per-user policy).
alter table public.fly_rollouts enable row level security;
alter table public.fly_rollout_targets enable row level security;
alter table public.fly_rollout_events enable row level security;
revoke all on public.fly_rollouts, public.fly_rollout_targets, public.fly_rollout_events
  from public, anon, authenticated;
grant all on public.fly_rollouts, public.fly_rollout_targets, public.fly_rollout_events to service_role;
revoke update, delete, truncate on public.fly_rollout_events from service_role;
