-- pg_cron schedules: the health-check sweep every minute, the tier-outbox drainer every second (every minute
-- on Debian's pg_cron 1.4, where the local platform runs its own one-second drainer), and housekeeping of
-- cron.job_run_details. Works on Debian's pg_cron 1.4 (5-field schedules only) and on Supabase's newer
-- pg_cron. No job command holds a secret: private.invoke_health_check() reads the URL and the secret from
-- Vault when it runs.

-- pg_cron keeps no time of when a job was scheduled; `ops doctor` needs it to tell a job that is not due yet
-- from one that should have run and did not (private.ops_doctor_report's scheduled_since).
create table if not exists private.cron_job_schedules (
  jobname text primary key,
  scheduled_at timestamptz not null default now()
);
comment on table private.cron_job_schedules is
  'When each pg_cron job of ours was first scheduled in this database (pg_cron does not record it): the '
  'doctor''s "scheduled, not run yet" window starts at the later of this and the server start.';
revoke all on table private.cron_job_schedules from public, anon, authenticated, service_role;


create or replace function private.invoke_health_check(p_body jsonb default '{}'::jsonb)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_result jsonb;
begin
  v_result := private.post_to_function('check-fly-apps-health', coalesce(p_body, '{}'::jsonb), 5000);
  if v_result ? 'problem' then
    -- Fail the cron run visibly (cron.job_run_details.status = 'failed' with this message).
    raise exception 'check-fly-apps-health not called: %', v_result ->> 'problem' using errcode = '55000';
  end if;
  return (v_result ->> 'request_id')::bigint;
end
$$;
comment on function private.invoke_health_check(jsonb) is
  'Queues POST <vault project_url>/functions/v1/check-fly-apps-health (body p_body, default {}) with the '
  'provisioner secret from Vault; returns the pg_net request id. Raises when the Vault secrets are missing or '
  'the URL is bad, so the pg_cron run is recorded as failed. Run every minute by the cron job '
  'check-fly-apps-health. Note that a succeeded cron run only means the request was queued.';


revoke all on all functions in schema private from public, anon, authenticated, service_role;

-- The sweep is what makes provisioning correct when a kick is lost, so a database without pg_cron must not
-- migrate "successfully": enabling pg_cron fails this migration with a message saying what to do. Supabase's
-- documented form (the dashboard does the same): pg_cron lives in pg_catalog. A database that deliberately
-- runs without pg_cron (a test database next to the one pg_cron serves: pg_cron works in one database per
-- cluster) says so with `fly_apps.without_pg_cron = on` and is told it has no schedules.
do $$
begin
  if coalesce(current_setting('fly_apps.without_pg_cron', true), '') = 'on' then
    raise warning 'fly_apps.without_pg_cron is on: the check-fly-apps-health sweep is NOT scheduled in %',
      current_database();
    return;
  end if;
  begin
    create extension if not exists pg_cron with schema pg_catalog;
  exception when others then
    raise exception 'pg_cron is required: the check-fly-apps-health sweep re-drives lost kicks and failed '
      'work, and it could not be enabled in database %: %', current_database(), sqlerrm
      using errcode = '55000',
            hint = 'Enable pg_cron (Dashboard > Database > Extensions, or `create extension pg_cron with schema '
              'pg_catalog`) in the database cron.database_name names, then run the migrations again.';
  end;
  -- cron.schedule(job_name, ...) replaces a job of the same name: re-running this is safe.
  perform cron.schedule('check-fly-apps-health', '* * * * *', 'select private.invoke_health_check()');
  insert into private.cron_job_schedules (jobname) values ('check-fly-apps-health')
  on conflict (jobname) do nothing;
  perform cron.schedule('purge-cron-job-run-details', '17 3 * * *',
    $cmd$delete from cron.job_run_details where end_time < now() - interval '7 days'$cmd$);
end
$$;

-- Schedule: every second where pg_cron >= 1.5 (hosted Supabase), every minute on pg_cron 1.4 (Debian),
-- where the local platform runs its own one-second drainer (scripts/local/drainer.ts).
do $$
declare
  v_version integer[];
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    select (regexp_match(extversion, '^(\d+)\.(\d+)'))::integer[] into v_version
    from pg_extension where extname = 'pg_cron';
    perform cron.schedule('drain-tier-outbox',
      case when v_version >= array[1, 5] then '1 seconds' else '* * * * *' end,
      'select private.drain_tier_outbox()');
  else
    raise notice 'pg_cron is not available here: drain-tier-outbox not scheduled';
  end if;
end
$$;
