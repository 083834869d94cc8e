-- Stand-in for the roles, schemas and default privileges every Supabase project has.
-- Test infrastructure only: applied by scripts/local (as the superuser supabase_admin) before the migrations,
-- never deployed. Follows supabase/postgres migrations/db: init-scripts/00000000000000-initial-schema.sql,
-- migrations/10000000000000_demote-postgres.sql, 20230201083204_grant_auth_roles_to_postgres.sql,
-- 20230306081037_grant_pg_monitor_to_postgres.sql, 20230529180330_alter_api_roles_for_inherit.sql,
-- 20240606060239_grant_predefined_roles_to_postgres.sql, and the pg_cron after-create script of
-- ansible/files/postgresql_extension_custom_scripts (what supautils runs when pg_cron is enabled).
do $$
begin
  -- `postgres` is what migrations, the SQL editor and the functions (SUPABASE_DB_URL) use on hosted
  -- Supabase: NOT a superuser (supabase_admin is), with these attributes (demote-postgres).
  if not exists (select 1 from pg_roles where rolname = 'postgres') then
    create role postgres login;
  end if;
  alter role postgres nosuperuser createdb createrole login replication bypassrls;

  -- The API roles, INHERIT since 20230529180330.
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin bypassrls;
  end if;
  alter role anon inherit;
  alter role authenticated inherit;
  alter role service_role inherit bypassrls;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;

  -- Like hosted, the project's database belongs to postgres (migrate.sh: alter database postgres owner to
  -- postgres), so postgres owns `public` (pg_database_owner) and may create schemas.
  execute format('alter database %I owner to postgres', current_database());
  -- Supabase's search_path puts `extensions` after public.
  execute format('alter database %I set search_path = "$user", public, extensions', current_database());
end
$$;

-- Short statement timeouts for the API roles (initial-schema).
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres;
grant pg_read_all_data, pg_signal_backend, pg_monitor to postgres;

create schema if not exists extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
grant all on schema extensions to postgres;
create extension if not exists pgcrypto with schema extensions;
grant all privileges on all tables in schema extensions to postgres with grant option;
grant all privileges on all routines in schema extensions to postgres with grant option;
grant all privileges on all sequences in schema extensions to postgres with grant option;
alter default privileges in schema extensions grant all on tables to postgres with grant option;
alter default privileges in schema extensions grant all on routines to postgres with grant option;
alter default privileges in schema extensions grant all on sequences to postgres with grant option;

-- Like Supabase, everything created in public is granted to the API roles; RLS is what protects rows.
grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
  grant all on sequences to postgres, anon, authenticated, service_role;

-- What supautils runs after pg_cron is created (by supabase_admin, on postgres' behalf): postgres uses the
-- cron schema and its functions, reads cron.job (writes go through cron.schedule/unschedule/alter_job) and
-- owns its job history.
create or replace function extensions.grant_pg_cron_access() returns event_trigger
language plpgsql
as $$
begin
  if exists (
    select from pg_event_trigger_ddl_commands() as ev
    join pg_extension as ext on ev.objid = ext.oid
    where ext.extname = 'pg_cron'
  ) then
    grant usage on schema cron to postgres with grant option;
    grant all on all functions in schema cron to postgres with grant option;
    alter default privileges for user supabase_admin in schema cron grant all on sequences to postgres with grant option;
    alter default privileges for user supabase_admin in schema cron grant all on tables to postgres with grant option;
    alter default privileges for user supabase_admin in schema cron grant all on functions to postgres with grant option;
    grant all privileges on all tables in schema cron to postgres with grant option;
    revoke all on table cron.job from postgres;
    grant select on table cron.job to postgres with grant option;
  end if;
end
$$;
drop event trigger if exists issue_pg_cron_access;
create event trigger issue_pg_cron_access on ddl_command_end when tag in ('CREATE EXTENSION')
  execute function extensions.grant_pg_cron_access();
