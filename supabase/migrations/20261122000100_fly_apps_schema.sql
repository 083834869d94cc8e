-- Dedicated Fly.io apps per paying user: tables.
--
-- Applies on an empty database and on a database that already has the seed system's `user_fly_apps` and
-- `user_fly_app_events` tables with rows: every statement is `if not exists`/additive, existing rows are
-- kept, and the new bookkeeping columns of existing rows are initialised from what the seed recorded.

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
  constraint fly_plans_dedicated_needs_size check (
    not dedicated_app or (region is not null and cpu_kind is not null and cpus is not null and memory_mb is not null)
  )
);
comment on table public.fly_plans is
  'Tier -> whether the user gets a dedicated Fly app, and its region and guest size. image overrides the '
  'configured FLY_APP_IMAGE for that tier when set.';

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
  updated_at timestamptz not null default now()
);

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
  add column if not exists cpu_kind text;

update public.user_fly_apps set retry_count = 0 where retry_count is null;
update public.user_fly_apps set health_status = 'unknown' where health_status is null;
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
  created_at timestamptz not null default clock_timestamp()
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
     or a.status not in ('pending', 'provisioning', 'active', 'failed', 'error', 'deprovisioning', 'deleted')
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

do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'user_fly_apps_status_check'
                 and conrelid = 'public.user_fly_apps'::regclass) then
    alter table public.user_fly_apps add constraint user_fly_apps_status_check
      check (status in ('pending', 'provisioning', 'active', 'failed', 'error', 'deprovisioning', 'deleted'));
  end if;
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
