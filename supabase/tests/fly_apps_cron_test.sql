-- pg_cron jobs: the health-check schedule (command reads Vault when it runs, holds no secret) and housekeeping.
begin;
select plan(12);
set local client_min_messages = error;

select isnt_empty($$select 1 from pg_extension where extname = 'pg_cron'$$, 'pg_cron is installed');
select results_eq(
  $$select schedule, command from cron.job where jobname = 'check-fly-apps-health'$$,
  $$values ('* * * * *'::text, 'select private.invoke_health_check()'::text)$$,
  'check-fly-apps-health runs every minute (a 5-field schedule pg_cron 1.4 accepts)');
-- (`active` is not asserted: `deno task test` switches the jobs off; tests/local/cron_migration.test.ts checks
-- that the migration schedules them active.)
select results_eq(
  $$select schedule from cron.job where jobname = 'purge-cron-job-run-details'$$,
  $$values ('17 3 * * *'::text)$$, 'housekeeping runs daily');
select matches((select command from cron.job where jobname = 'purge-cron-job-run-details'),
  'delete from cron\.job_run_details where end_time < now\(\) - interval', 'and deletes old job_run_details');
select is(
  (select count(*)::int from cron.job where command ~* '(bearer|authorization|https?://|secret)'),
  0, 'no job command holds a URL, a header or a secret');

-- Run the job's command the way pg_cron does, with the Vault secrets a project has.
delete from vault.secrets where name in ('project_url', 'fly_kick_secret');
select vault.create_secret('https://ref.example.test', 'project_url');
select vault.create_secret('cron-test-secret', 'fly_kick_secret');
create temp table before as select coalesce(max(id), 0) as max_id from net.http_request_queue;
do $$ begin execute (select command from cron.job where jobname = 'check-fly-apps-health'); end $$;
select results_eq(
  $$select url, convert_from(body, 'utf8')::jsonb, headers ->> 'Authorization', timeout_milliseconds
    from net.http_request_queue where id > (select max_id from before)$$,
  $$values ('https://ref.example.test/functions/v1/check-fly-apps-health'::text, '{}'::jsonb,
            'Bearer cron-test-secret'::text, 5000)$$,
  'the command queues POST <project_url>/functions/v1/check-fly-apps-health with the secret read from Vault');
create temp table invoked as select private.invoke_health_check('{"limit": 5, "budget_ms": 1000}') as request_id;
select is((select request_id from invoked), (select max(id) from net.http_request_queue),
  'invoke_health_check returns the request id');
select is((select convert_from(body, 'utf8')::jsonb from net.http_request_queue order by id desc limit 1),
  '{"limit": 5, "budget_ms": 1000}'::jsonb, 'and passes a body through');

-- The secret is rotated: the next run uses the new one.
select vault.update_secret((select id from vault.secrets where name = 'fly_kick_secret'), 'rotated-cron-secret');
do $$ begin execute (select command from cron.job where jobname = 'check-fly-apps-health'); end $$;
select is((select headers ->> 'Authorization' from net.http_request_queue order by id desc limit 1),
  'Bearer rotated-cron-secret', 'the rotated secret is read at run time');

-- Without the secrets the run fails visibly (job_run_details 'failed'), sending nothing.
delete from vault.secrets where name = 'project_url';
select throws_ok((select command from cron.job where jobname = 'check-fly-apps-health'), '55000',
  'check-fly-apps-health not called: vault secret project_url is missing', 'missing project_url fails the run');
select vault.create_secret('https://ref.example.test', 'project_url');
delete from vault.secrets where name = 'fly_kick_secret';
select throws_ok((select command from cron.job where jobname = 'check-fly-apps-health'), '55000',
  'check-fly-apps-health not called: vault secret fly_kick_secret is missing',
  'missing secret fails the run');

select lives_ok((select command from cron.job where jobname = 'purge-cron-job-run-details'),
  'the housekeeping command runs');

select * from finish();
rollback;
