-- Secrets by purpose (issue 26). The database holds ONE secret, the kick secret (Vault `fly_kick_secret`):
-- it lets a caller ask for a background reconcile of given users and for a sweep, nothing else. pg_net keeps
-- request headers in tables PUBLIC can read, so whatever the database sends must be worth nothing more than
-- a kick. The admin secret (PROVISIONER_SECRET) opens fly-apps-admin and the ops actions and is never stored
-- here; a legacy `fly_provisioner_secret` left in Vault is reported by the doctor (README: "One secret to two").

create or replace function private.function_endpoint(out base_url text, out secret text, out problem text)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  select btrim(max(s.decrypted_secret) filter (where s.name = 'project_url')),
         max(s.decrypted_secret) filter (where s.name = 'fly_kick_secret')
  into base_url, secret
  from vault.decrypted_secrets s
  where s.name in ('project_url', 'fly_kick_secret');
  if base_url is null or base_url = '' then
    problem := 'vault secret project_url is missing';
  elsif secret is null or secret = '' then
    problem := 'vault secret fly_kick_secret is missing';
  elsif base_url !~* '^https?://[^/\s?#]+[^\s]*$' then
    problem := 'vault secret project_url is not an http(s) URL';
  end if;
  base_url := rtrim(base_url, '/');
end
$$;
comment on function private.function_endpoint() is
  'Reads Vault once: base_url (project_url without trailing slash), secret (fly_kick_secret: the kick secret, '
  'never the admin secret) and problem (null when both are usable; else which secret is missing or malformed, '
  'never a value). Owner only.';
comment on function private.post_to_function(text, jsonb, integer) is
  'Queues POST <vault project_url>/functions/v1/<p_function> with body p_body, '
  'Authorization: Bearer <vault fly_kick_secret> and an explicit timeout, through net.http_post '
  '(sent only after commit). Never raises: returns {function, request_id} or {function, request_id: null, '
  'problem} (missing Vault secret, bad URL, pg_net error; secret values redacted).';

-- The doctor also learns whether Vault still holds the legacy secret, and whether any Vault secret equals the
-- admin secret (compared by SHA-256, so the admin secret itself never reaches the database).
drop function if exists private.ops_doctor_report();
create or replace function private.ops_doctor_report(p_admin_secret_sha256 text default null) returns jsonb
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
        'fly_kick_secret', exists(select 1 from vault.decrypted_secrets
                              where name = 'fly_kick_secret' and coalesce(decrypted_secret, '') <> ''),
        'legacy_fly_provisioner_secret', exists(select 1 from vault.decrypted_secrets
                              where name = 'fly_provisioner_secret'),
        'admin_secret_in_vault', $1 is not null and exists(select 1 from vault.decrypted_secrets
                              where encode(sha256(convert_to(coalesce(decrypted_secret, ''), 'UTF8')), 'hex')
                                    = lower($1)),
        'project_url_is_http', coalesce((select btrim(decrypted_secret) ~* '^https?://[^/\s?#]+'
                              from vault.decrypted_secrets where name = 'project_url' limit 1), false))
    $q$ into v_vault using p_admin_secret_sha256;
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
comment on function private.ops_doctor_report(text) is
  'Database side of `ops doctor`, names and states only (never a secret value): which Vault secrets exist '
  '(fly_kick_secret; a legacy fly_provisioner_secret; whether any equals the admin secret whose SHA-256 hex '
  'is p_admin_secret_sha256), the check-fly-apps-health cron job, since when it is scheduled (scheduled_since: '
  'the later of the server start and private.cron_job_schedules) and its last run, pg_net''s queue and its '
  'recent responses.';
revoke all on function private.ops_doctor_report(text) from public, anon, authenticated, service_role;
