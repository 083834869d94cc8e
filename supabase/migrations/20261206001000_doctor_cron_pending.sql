-- `ops doctor` tells a cron job that is scheduled but not due yet from one that should have run and did not.
-- pg_cron keeps no time of when a job was scheduled, so this records it (the time this migration ran, which
-- on a fresh deploy is the deploy), and the doctor's report gains `scheduled_since`: the later of that time
-- and the server's start (pg_cron's scheduler starts with the server). Before `scheduled_since` plus one
-- schedule period and a grace the job has simply not been due yet.

create table if not exists private.cron_job_schedules (
  jobname text primary key,
  scheduled_at timestamptz not null default now()
);
comment on table private.cron_job_schedules is
  'When each pg_cron job of ours was first scheduled in this database (pg_cron does not record it): the '
  'doctor''s "scheduled, not run yet" window starts at the later of this and the server start.';
revoke all on table private.cron_job_schedules from public, anon, authenticated, service_role;

do $$
begin
  if to_regclass('cron.job') is not null then
    insert into private.cron_job_schedules (jobname)
    select j.jobname from cron.job j where j.jobname = 'check-fly-apps-health'
    on conflict (jobname) do nothing;
  end if;
end
$$;

create or replace function private.ops_doctor_report() returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_vault jsonb;
  v_cron jsonb;
  v_net jsonb;
begin
  if to_regclass('vault.decrypted_secrets') is null then
    v_vault := jsonb_build_object('available', false);
  else
    execute $q$
      select jsonb_build_object('available', true,
        'project_url', exists(select 1 from vault.decrypted_secrets
                              where name = 'project_url' and coalesce(btrim(decrypted_secret), '') <> ''),
        'fly_provisioner_secret', exists(select 1 from vault.decrypted_secrets
                              where name = 'fly_provisioner_secret' and coalesce(decrypted_secret, '') <> ''),
        'project_url_is_http', coalesce((select btrim(decrypted_secret) ~* '^https?://[^/\s?#]+'
                              from vault.decrypted_secrets where name = 'project_url' limit 1), false))
    $q$ into v_vault;
  end if;

  if to_regclass('cron.job') is null then
    v_cron := jsonb_build_object('available', false);
  else
    execute $q$
      select jsonb_build_object('available', true,
        'job', (select jsonb_build_object('schedule', j.schedule, 'active', j.active, 'command', j.command)
                from cron.job j where j.jobname = 'check-fly-apps-health' limit 1),
        'scheduled_since', greatest(pg_postmaster_start_time(),
                                    (select s.scheduled_at from private.cron_job_schedules s
                                     where s.jobname = 'check-fly-apps-health')),
        'last_run', (select jsonb_build_object('status', d.status, 'start_time', d.start_time,
                                               'end_time', d.end_time, 'message', left(d.return_message, 300))
                     from cron.job_run_details d join cron.job j on j.jobid = d.jobid
                     where j.jobname = 'check-fly-apps-health'
                     order by d.start_time desc nulls last limit 1))
    $q$ into v_cron;
  end if;

  if to_regclass('net._http_response') is null then
    v_net := jsonb_build_object('available', false);
  else
    execute $q$
      select jsonb_build_object('available', true,
        'queued', (select count(*) from net.http_request_queue),
        'oldest_queued_id', (select min(id) from net.http_request_queue),
        'responses_last_2m', (select count(*) from net._http_response
                              where created > now() - interval '2 minutes'),
        'ok_last_2m', (select count(*) from net._http_response
                       where created > now() - interval '2 minutes' and status_code between 200 and 299),
        'latest', (select jsonb_build_object('status_code', r.status_code, 'timed_out', r.timed_out,
                                             'error', left(r.error_msg, 300), 'created', r.created)
                   from net._http_response r order by r.created desc limit 1))
    $q$ into v_net;
  end if;

  return jsonb_build_object('vault', v_vault, 'cron', v_cron, 'net', v_net, 'checked_at', now());
end
$$;
comment on function private.ops_doctor_report() is
  'Database side of `ops doctor`, names and states only (never a secret value): which Vault secrets exist, '
  'the check-fly-apps-health cron job, since when it is scheduled (scheduled_since: the later of the server '
  'start and private.cron_job_schedules) and its last run, pg_net''s queue and its recent responses.';
revoke all on function private.ops_doctor_report() from public, anon, authenticated, service_role;
