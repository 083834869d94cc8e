-- The tier-change trigger: records the desired state durably in the same transaction, then kicks the
-- provision/deprovision Edge Function through pg_net. The kick is an optimisation: nothing about it may fail
-- the user's statement; the health-check sweep (pg_cron) re-drives whatever a lost kick leaves behind.
--
-- The function URL and the provisioner secret are read from Vault when the trigger runs
-- (secrets `project_url` and `fly_provisioner_secret`); no secret value is stored in this file, in trigger
-- arguments or in cron.job.command.

-- POSTs a JSON body to <project_url>/functions/v1/<function> with the provisioner secret as bearer token.
-- Never raises: returns {function, request_id} when queued, {function, problem} when not.
create or replace function private.post_to_function(
  p_function text,
  p_body jsonb,
  p_timeout_milliseconds integer default 5000
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_url text;
  v_secret text;
  v_problem text;
  v_request_id bigint;
begin
  begin
    select s.decrypted_secret into v_url from vault.decrypted_secrets s where s.name = 'project_url';
    select s.decrypted_secret into v_secret from vault.decrypted_secrets s where s.name = 'fly_provisioner_secret';
    v_url := btrim(v_url);
    if v_url is null or v_url = '' then
      v_problem := 'vault secret project_url is missing';
    elsif v_secret is null or v_secret = '' then
      v_problem := 'vault secret fly_provisioner_secret is missing';
    elsif v_url !~* '^https?://[^/\s?#]+[^\s]*$' then
      v_problem := 'vault secret project_url is not an http(s) URL';
    else
      v_request_id := net.http_post(
        url := rtrim(v_url, '/') || '/functions/v1/' || p_function,
        body := coalesce(p_body, '{}'::jsonb),
        params := '{}'::jsonb,
        headers := jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || v_secret),
        timeout_milliseconds := p_timeout_milliseconds
      );
    end if;
  exception when others then
    v_problem := 'pg_net error ' || sqlstate || ': ' || sqlerrm;
    -- An error message could echo what it was given: never let it carry the secret.
    if v_secret is not null and v_secret <> '' then
      v_problem := replace(v_problem, v_secret, '[redacted]');
    end if;
  end;
  if v_problem is not null then
    return jsonb_build_object('function', p_function, 'request_id', null, 'problem', left(v_problem, 500));
  end if;
  return jsonb_build_object('function', p_function, 'request_id', v_request_id);
end
$$;
comment on function private.post_to_function(text, jsonb, integer) is
  'Queues POST <vault project_url>/functions/v1/<p_function> with body p_body, '
  'Authorization: Bearer <vault fly_provisioner_secret> and an explicit timeout, through net.http_post '
  '(sent only after commit). Never raises: returns {function, request_id} or {function, request_id: null, '
  'problem} (missing Vault secret, bad URL, pg_net error; secret values redacted).';

create or replace function private.kick_user_fly_app(
  p_user_id uuid,
  p_generation bigint,
  p_desired_state text,
  p_reason text
) returns jsonb
language sql
security definer
set search_path = ''
as $$
  select private.post_to_function(
    case when p_desired_state = 'present' then 'provision-user-fly-app' else 'deprovision-user-fly-app' end,
    jsonb_build_object('user_id', p_user_id, 'generation', p_generation, 'reason', p_reason),
    5000)
$$;
comment on function private.kick_user_fly_app(uuid, bigint, text, text) is
  'Kicks provision-user-fly-app (desired present) or deprovision-user-fly-app (absent) with body '
  '{user_id, generation, reason}; 5 s timeout (the functions answer 202 at once). Never raises; see '
  'private.post_to_function for the result.';

create or replace function private.on_user_tier_change() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user uuid;
  v_old_tier text;
  v_new_tier text;
  v_reason text;
  v_applied record;
  v_kick jsonb;
begin
  if tg_op = 'INSERT' then
    v_user := new.user_id;
    v_new_tier := new.tier;
    v_reason := 'subscription_created';
  elsif tg_op = 'UPDATE' then
    if new.tier is not distinct from old.tier then
      return null;
    end if;
    v_user := new.user_id;
    v_old_tier := old.tier;
    v_new_tier := new.tier;
    v_reason := 'tier_changed';
  else
    v_user := old.user_id;
    v_old_tier := old.tier;
    v_reason := 'subscription_deleted';
  end if;

  -- Durable part: must succeed (a failure here fails the statement, so no tier change is ever lost).
  select * into v_applied from private._apply_desired_state(v_user, v_new_tier);
  if not v_applied.changed then
    return null;
  end if;

  -- Best-effort part.
  v_kick := private.kick_user_fly_app(v_user, v_applied.desired_generation, v_applied.desired_state, v_reason);
  perform private.append_user_fly_app_event(
    v_user,
    case when v_applied.desired_state = 'present' then 'provision_requested' else 'deprovision_requested' end,
    case when v_kick ? 'problem' then 'warning' else 'info' end,
    jsonb_build_object('reason', v_reason, 'old_tier', v_old_tier, 'new_tier', v_new_tier,
                       'generation', v_applied.desired_generation, 'kick', v_kick),
    null, v_applied.app_id);
  if v_kick ? 'problem' then
    raise warning 'user_fly_apps: kick of % for user % not sent: %; the health-check sweep will catch up',
      v_kick ->> 'function', v_user, v_kick ->> 'problem';
    perform private.append_user_fly_app_event(v_user, 'kick_failed', 'warning',
      jsonb_build_object('function', v_kick ->> 'function', 'generation', v_applied.desired_generation,
                         'reason', v_reason),
      v_kick ->> 'problem', v_applied.app_id);
  end if;
  return null;
end
$$;
comment on function private.on_user_tier_change() is
  'Trigger on user_subscriptions (after insert, update of tier, delete): records the desired state in the '
  'user''s user_fly_apps row (one per user; reactivates a deleted row; bumps desired_generation; due now) and '
  'appends a provision_requested/deprovision_requested event, then kicks the matching function through '
  'pg_net. A kick that cannot be queued (missing Vault secret, bad URL, pg_net error) only raises a WARNING '
  'and appends a kick_failed event; the cron sweep catches up.';

drop trigger if exists on_user_tier_change on public.user_subscriptions;
create trigger on_user_tier_change
  after insert or update of tier or delete on public.user_subscriptions
  for each row execute function private.on_user_tier_change();

revoke all on all functions in schema private from public, anon, authenticated, service_role;
