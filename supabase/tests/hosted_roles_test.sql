-- The database is set up as hosted Supabase's is: migrations and tests run as `postgres`, which is NOT a
-- superuser (supabase_admin is); the API roles are INHERIT with the hosted statement timeouts.
begin;
select plan(12);

select is(current_user::text, 'postgres', 'tests run as postgres, as `supabase test db` does');
select results_eq(
  $$select rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolcanlogin from pg_roles where rolname = 'postgres'$$,
  $$values (false, true, true, true, true)$$,
  'postgres is not a superuser; it has createrole, createdb, bypassrls (demote-postgres)');
select is((select rolsuper from pg_roles where rolname = 'supabase_admin'), true, 'supabase_admin is the superuser');
select is(
  (select string_agg(format('%s inherit=%s bypassrls=%s', rolname, rolinherit, rolbypassrls), ', ' order by rolname)
   from pg_roles where rolname in ('anon', 'authenticated', 'service_role')),
  'anon inherit=t bypassrls=f, authenticated inherit=t bypassrls=f, service_role inherit=t bypassrls=t',
  'API roles are INHERIT; only service_role bypasses RLS');
select is((select setconfig from pg_db_role_setting where setrole = 'anon'::regrole and setdatabase = 0),
  array['statement_timeout=3s'], 'anon has a 3 s statement timeout');
select is((select setconfig from pg_db_role_setting where setrole = 'authenticated'::regrole and setdatabase = 0),
  array['statement_timeout=8s'], 'authenticated has an 8 s statement timeout');
select ok(pg_has_role('postgres', 'anon', 'member') and pg_has_role('postgres', 'authenticated', 'member')
  and pg_has_role('postgres', 'service_role', 'member'), 'postgres is a member of the API roles');
select is(
  (select string_agg(format('%s:%s', nspname, pg_get_userbyid(nspowner)), ', ' order by nspname)
   from pg_namespace where nspname in ('auth', 'vault', 'net', 'cron')),
  'auth:supabase_admin, cron:supabase_admin, net:supabase_admin, vault:supabase_admin',
  'the platform schemas belong to supabase_admin');
select is(pg_get_userbyid((select nspowner from pg_namespace where nspname = 'private'))::text, 'postgres',
  'the project''s own schema belongs to postgres, who ran the migrations');
select ok(has_schema_privilege('postgres', 'cron', 'usage') and has_table_privilege('postgres', 'cron.job', 'select')
  and not has_table_privilege('postgres', 'cron.job', 'insert'),
  'postgres reads cron.job and writes it only through cron.schedule (as on hosted)');
select throws_ok($$create extension if not exists file_fdw$$, '42501', null,
  'postgres cannot create an extension supautils does not offer (file_fdw)');
select throws_ok($$alter role postgres superuser$$, '42501', null, 'nor make itself a superuser');

select * from finish();
rollback;
