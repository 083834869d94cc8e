-- Tier changes through a durable outbox:
--
--   * In the user's transaction the triggers only append one narrow row (user_id, queued_at) to the
--     index-free, logged table private.tier_outbox: no Vault read, no HTTP, no event, no subtransaction.
--     A committed change is never lost; a rolled-back one leaves nothing. Past 64 changes in one
--     transaction, one bulk marker (user_id null) stands for the rest.
--   * private.drain_tier_outbox() (pg_cron every second, the local platform's drainer, the health sweep)
--     takes a batch, reads each user's CURRENT tier, records the desired state through
--     private._apply_desired_state (the one place for the tier -> desired state rule), writes one event per
--     user, reads Vault once and queues ONE request per batch: POST {user_ids} to provision-user-fly-app,
--     which reconciles whatever each user's current tier says. While a bulk marker is queued it also works
--     off private.users_with_unrecorded_tier() (user_fly_apps.desired_tier against the subscription's tier).
--   * private.tier_outbox_oldest_age_s() tells the sweep how far behind the outbox is (alerting).
--
-- Postgres does not allow a WHEN clause that reads OLD on a trigger that also fires on INSERT, so the
-- UPDATE OF tier trigger (with WHEN) and the INSERT/DELETE trigger are two triggers on one function.
-- Everything here runs as the non-superuser database owner (no superuser-only statement).

-- ---------------------------------------------------------------------------------------------------------
-- Calling the Edge Functions: the endpoint from Vault, one queued POST.

-- Where the functions live and the secret they want, read from Vault in ONE query.
create or replace function private.function_endpoint(out base_url text, out secret text, out problem text)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  select btrim(max(s.decrypted_secret) filter (where s.name = 'project_url')),
         max(s.decrypted_secret) filter (where s.name = 'fly_provisioner_secret')
  into base_url, secret
  from vault.decrypted_secrets s
  where s.name in ('project_url', 'fly_provisioner_secret');
  if base_url is null or base_url = '' then
    problem := 'vault secret project_url is missing';
  elsif secret is null or secret = '' then
    problem := 'vault secret fly_provisioner_secret is missing';
  elsif base_url !~* '^https?://[^/\s?#]+[^\s]*$' then
    problem := 'vault secret project_url is not an http(s) URL';
  end if;
  base_url := rtrim(base_url, '/');
end
$$;
comment on function private.function_endpoint() is
  'Reads Vault once: base_url (project_url without trailing slash), secret (fly_provisioner_secret) and '
  'problem (null when both are usable; else which secret is missing or malformed, never a value). Owner only.';

-- Queues one POST to an endpoint read by private.function_endpoint().
create or replace function private._queue_function_post(
  p_base_url text,
  p_secret text,
  p_function text,
  p_body jsonb,
  p_timeout_milliseconds integer
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_request_id bigint;
  v_problem text;
begin
  begin
    v_request_id := net.http_post(
      url := p_base_url || '/functions/v1/' || p_function,
      body := coalesce(p_body, '{}'::jsonb),
      params := '{}'::jsonb,
      headers := jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || p_secret),
      timeout_milliseconds := p_timeout_milliseconds
    );
  exception when others then
    -- An error message could echo what it was given: never let it carry the secret.
    v_problem := replace('pg_net error ' || sqlstate || ': ' || sqlerrm, p_secret, '[redacted]');
    return jsonb_build_object('function', p_function, 'request_id', null, 'problem', left(v_problem, 500));
  end;
  return jsonb_build_object('function', p_function, 'request_id', v_request_id);
end
$$;

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
  v_endpoint record;
begin
  select * into v_endpoint from private.function_endpoint();
  if v_endpoint.problem is not null then
    return jsonb_build_object('function', p_function, 'request_id', null, 'problem', v_endpoint.problem);
  end if;
  return private._queue_function_post(v_endpoint.base_url, v_endpoint.secret, p_function, p_body,
                                      p_timeout_milliseconds);
end
$$;
comment on function private.post_to_function(text, jsonb, integer) is
  'Queues POST <vault project_url>/functions/v1/<p_function> with body p_body, '
  'Authorization: Bearer <vault fly_provisioner_secret> and an explicit timeout, through net.http_post '
  '(sent only after commit). Never raises: returns {function, request_id} or {function, request_id: null, '
  'problem} (missing Vault secret, bad URL, pg_net error; secret values redacted).';


-- ---------------------------------------------------------------------------------------------------------
-- The triggers: one outbox row per change up to 64 per transaction, then one bulk marker.

-- Cost matters here (issue 12 measures it against the bare UPDATE): the count is read and written as plain
-- PL/pgSQL assignments (the simple-expression path; a PERFORM would run a query through SPI). Once the
-- marker is written the count reads 'bulk' and every later call of the transaction returns at once. The
-- triggers' WHEN clauses do not test the setting: that cannot skip a call within the statement (an AFTER
-- trigger's calls come at its end, after every row's WHEN), only in the transaction's later statements, and
-- it would be compiled for every UPDATE that sets tier.
-- (The statistics' transaction-local insert count, pg_stat_get_xact_tuples_inserted, would save the write,
-- but on Postgres 15 it also holds the backend's earlier transactions until their stats are flushed, up to
-- a second later: a busy writer would queue markers for single changes.)

-- ---------------------------------------------------------------------------------------------------------
-- The trigger: one row per change up to 64 per transaction, then one marker.
--
-- Cost matters here (issue 12 measures it against the bare UPDATE): the count is read and written as plain
-- PL/pgSQL assignments (the simple-expression path; a PERFORM would run a query through SPI). Once the
-- marker is written the count reads 'bulk' and every later call of the transaction returns at once. The
-- triggers themselves stay as 20261130000300 made them: testing the setting in their WHEN clauses cannot skip
-- a call within the statement (an AFTER trigger's calls come at its end, after every row's WHEN), only in the
-- transaction's later statements, and it would be compiled for every UPDATE that sets tier.
-- (The statistics' transaction-local insert count, pg_stat_get_xact_tuples_inserted, would save the write,
-- but on Postgres 15 it also holds the backend's earlier transactions until their stats are flushed, up to
-- a second later: a busy writer would queue markers for single changes.)

create or replace function private.on_user_tier_change() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  -- Changes this transaction has queued so far, or 'bulk' once it wrote its marker (transaction-local:
  -- rolled back with the rows it counts).
  v_count text := pg_catalog.current_setting('fly_apps.tier_changes_queued', true);
  v_queued integer;
  v_set text;
begin
  if v_count = 'bulk' then
    return null;
  end if;
  v_queued := coalesce(nullif(v_count, '')::integer, 0);
  if v_queued < 64 then
    insert into private.tier_outbox (user_id) values (coalesce(new.user_id, old.user_id));
    v_set := pg_catalog.set_config('fly_apps.tier_changes_queued', (v_queued + 1)::text, true);
  else
    insert into private.tier_outbox (user_id) values (null);
    v_set := pg_catalog.set_config('fly_apps.tier_changes_queued', 'bulk', true);
  end if;
  return null;
end
$$;
comment on function private.on_user_tier_change() is
  'Trigger on user_subscriptions (after insert or delete; after update of tier when it really changed), in '
  'the writer''s transaction: the first 64 changes of a transaction append (user_id, queued_at) to '
  'private.tier_outbox each, the 65th appends one bulk marker (user_id null) and sets the transaction-local '
  'count fly_apps.tier_changes_queued to ''bulk'': later changes append nothing (the marker stands for '
  'them).';

drop trigger if exists on_user_tier_change on public.user_subscriptions;

create trigger on_user_tier_change
  after update of tier on public.user_subscriptions
  for each row when (old.tier is distinct from new.tier)
  execute function private.on_user_tier_change();

drop trigger if exists on_user_subscription_change on public.user_subscriptions;

create trigger on_user_subscription_change
  after insert or delete on public.user_subscriptions
  for each row execute function private.on_user_tier_change();


-- ---------------------------------------------------------------------------------------------------------
-- The drainer.

create or replace function private.users_with_unrecorded_tier(p_limit integer)
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  with paid as (select p.tier from public.fly_plans p where private.tier_has_app(p.tier))
  (select s.user_id
   from public.user_subscriptions s
   left join public.user_fly_apps a on a.user_id = s.user_id
   where case when a.id is null then s.tier in (select tier from paid)
              else a.desired_tier is distinct from s.tier end
   union all
   select a.user_id
   from public.user_fly_apps a
   where a.desired_tier is not null
     and not exists (select 1 from public.user_subscriptions s where s.user_id = a.user_id))
  limit greatest(p_limit, 0)
$$;
comment on function private.users_with_unrecorded_tier(integer) is
  'Users (at most p_limit) whose current tier is not the one their desired state was recorded for: a row '
  'whose desired_tier differs from the subscription''s tier, a paid subscription without a row, a row whose '
  'subscription is gone. One pass over user_subscriptions and user_fly_apps; run only for bulk markers.';

create or replace function private.tier_outbox_oldest_age_s() returns double precision
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(extract(epoch from now() - min(o.queued_at))::double precision, 0) from private.tier_outbox o
$$;
comment on function private.tier_outbox_oldest_age_s() is
  'Age in seconds of the oldest tier change still in the outbox (0 when empty). The health sweep alerts '
  'when it exceeds its threshold (the drainer is not running or cannot kick). One scan of a small table.';

-- ---------------------------------------------------------------------------------------------------------
-- The drainer.

create or replace function private.drain_tier_outbox(p_limit integer default 1000, p_kick boolean default true)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_limit integer := least(greatest(coalesce(p_limit, 1000), 1), 1000);
  v_endpoint record;
  v_warned integer;
  v_markers tid[];
  v_marked_at timestamptz;
  v_drained integer;
  v_batch jsonb;
  v_room integer;
  v_bulk_drained integer := 0;
  v_bulk jsonb := '[]'::jsonb;
  v_more boolean;
  v_user_ids uuid[];
  v_kick jsonb;
begin
  -- One drainer at a time: a second one (an overlapping cron run, the sweep) returns at once. With SKIP
  -- LOCKED alone, two drainers could take two changes of one user and apply the older tier last.
  if not pg_try_advisory_xact_lock(hashtext('private.drain_tier_outbox')) then
    return jsonb_build_object('busy', true, 'drained', 0, 'users', 0, 'kicked', false, 'more', false);
  end if;

  -- The common case, every second: nothing queued. Return before touching Vault (a read decrypts on hosted).
  if not exists (select 1 from private.tier_outbox) then
    return jsonb_build_object('drained', 0, 'users', 0, 'kicked', false, 'user_ids', '[]'::jsonb,
                              'oldest_age_s', 0, 'more', false);
  end if;

  if p_kick then
    select * into v_endpoint from private.function_endpoint();
    if v_endpoint.problem is not null then
      -- Nothing is consumed: the changes wait in the outbox until the kick can be sent. Each waiting user
      -- gets one kick_failed warning event per hour, not one per run (a bulk marker names no user).
      insert into public.user_fly_app_events (fly_app_id, user_id, event_type, status, metadata, error_details)
      select a.id, w.user_id, 'kick_failed', 'warning',
             jsonb_build_object('function', 'provision-user-fly-app', 'waiting_since', w.queued_at),
             v_endpoint.problem
      from (select o.user_id, min(o.queued_at) as queued_at
            from (select user_id, queued_at from private.tier_outbox where user_id is not null limit v_limit) o
            group by o.user_id) w
      left join public.user_fly_apps a on a.user_id = w.user_id
      where not exists (
        select 1 from public.user_fly_app_events e
        where e.user_id = w.user_id and e.event_type = 'kick_failed'
          and e.created_at > now() - interval '1 hour');
      get diagnostics v_warned = row_count;
      raise warning 'tier outbox not drained: %; the changes stay queued until the kick can be sent',
        v_endpoint.problem;
      return jsonb_build_object('drained', 0, 'users', 0, 'kicked', false, 'problem', v_endpoint.problem,
                                'warned_users', v_warned, 'oldest_age_s', private.tier_outbox_oldest_age_s(),
                                'more', false);
    end if;
  end if;

  -- Bulk markers are locked first: the diff below then sees every change they stand for, and a marker
  -- committed after this point stays for the next run.
  select array_agg(t.ctid), min(t.queued_at) into v_markers, v_marked_at
  from (select ctid, queued_at from private.tier_outbox where user_id is null for update skip locked) t;

  -- Take the batch (delete by ctid: the table has no index) and record each user's desired state from the
  -- CURRENT tier, so several changes of one user collapse into one.
  with taken as (
    delete from private.tier_outbox o
    where o.ctid = any (array(select t.ctid from private.tier_outbox t where t.user_id is not null
                              limit v_limit for update skip locked))
    returning o.user_id, o.queued_at
  ), per_user as (
    select t.user_id, count(*)::integer as changes, min(t.queued_at) as first_queued_at
    from taken t group by t.user_id
  ), applied as (
    select p.*, s.tier, d.changed, d.app_id, d.desired_state, d.desired_generation
    from per_user p
    left join public.user_subscriptions s on s.user_id = p.user_id
    cross join lateral private._apply_desired_state(p.user_id, s.tier) d
  )
  select coalesce(sum(a.changes), 0)::integer, count(*)::integer,
         coalesce(jsonb_agg(to_jsonb(a) order by a.first_queued_at) filter (where a.changed), '[]'::jsonb)
  into v_drained, v_room, v_batch
  from applied a;
  v_room := v_limit - v_room;
  v_more := v_drained >= v_limit;

  -- Bulk: the users whose current tier is not recorded yet, in the room the batch has left. The markers go
  -- once the diff comes back short of that room (nothing left that they stand for).
  if v_markers is not null then
    if v_room > 0 then
      with applied as (
        select u.user_id, 0 as changes, v_marked_at as first_queued_at, s.tier, d.changed, d.app_id,
               d.desired_state, d.desired_generation
        from private.users_with_unrecorded_tier(v_room) u(user_id)
        left join public.user_subscriptions s on s.user_id = u.user_id
        cross join lateral private._apply_desired_state(u.user_id, s.tier) d
      )
      select count(*)::integer, coalesce(jsonb_agg(to_jsonb(a)) filter (where a.changed), '[]'::jsonb)
      into v_bulk_drained, v_bulk
      from applied a;
    end if;
    if v_room > 0 and v_bulk_drained < v_room then
      delete from private.tier_outbox o where o.ctid = any (v_markers);
      v_drained := v_drained + cardinality(v_markers);
    else
      v_more := true;
    end if;
    v_batch := v_batch || v_bulk;
  end if;

  -- Distinct: a user changed again between the two statements above can be in both parts.
  v_user_ids := array(select distinct (b ->> 'user_id')::uuid from jsonb_array_elements(v_batch) b);
  if p_kick and cardinality(v_user_ids) > 0 then
    v_kick := private._queue_function_post(v_endpoint.base_url, v_endpoint.secret, 'provision-user-fly-app',
      jsonb_build_object('user_ids', to_jsonb(v_user_ids), 'reason', 'tier_changed'), 5000);
    if v_kick ? 'problem' then
      raise warning 'tier outbox: kick not sent: %; the health-check sweep will catch up', v_kick ->> 'problem';
    end if;
  end if;

  insert into public.user_fly_app_events (fly_app_id, user_id, event_type, status, metadata, error_details)
  select b.app_id, b.user_id,
         case when b.desired_state = 'present' then 'provision_requested' else 'deprovision_requested' end,
         case when v_kick ? 'problem' then 'warning' else 'info' end,
         jsonb_build_object('reason', 'tier_changed', 'tier', b.tier, 'generation', b.desired_generation,
                            'changes', b.changes, 'queued_at', b.first_queued_at, 'bulk', b.changes = 0,
                            'kick', coalesce(v_kick, '{"request_id": null}'::jsonb)),
         v_kick ->> 'problem'
  from jsonb_to_recordset(v_batch) as b(user_id uuid, app_id uuid, tier text, desired_state text,
                                        desired_generation bigint, changes integer, first_queued_at timestamptz);

  return jsonb_strip_nulls(jsonb_build_object(
    'drained', v_drained, 'users', cardinality(v_user_ids), 'kicked', v_kick ->> 'request_id' is not null,
    'request_id', v_kick -> 'request_id', 'problem', v_kick ->> 'problem', 'user_ids', to_jsonb(v_user_ids),
    'bulk_users', case when v_markers is not null then v_bulk_drained end, 'more', v_more,
    'oldest_age_s', private.tier_outbox_oldest_age_s()));
end
$$;
comment on function private.drain_tier_outbox(integer, boolean) is
  'Drains up to p_limit (1..1000) tier changes from private.tier_outbox: for each user, the desired state '
  'of the CURRENT tier through private._apply_desired_state (several changes collapse into one), one '
  'provision_requested/deprovision_requested event, and (p_kick) ONE POST {user_ids, reason} to '
  'provision-user-fly-app for the batch, with the URL and secret read from Vault once. While a bulk marker is '
  'queued, the room the batch leaves is filled from private.users_with_unrecorded_tier() (events say bulk: '
  'true); the marker is consumed once that diff is exhausted. One drainer at a time (advisory lock; a '
  'concurrent call returns {busy: true}). When Vault is missing or malformed it consumes nothing, raises a '
  'WARNING and writes one kick_failed warning event per waiting user per hour. p_kick = false (the health '
  'sweep, which reconciles the due rows itself) needs no Vault. Returns {drained (outbox rows taken), users '
  '(users whose desired state was recorded and kicked), kicked, request_id?, problem?, user_ids, bulk_users? '
  '(users taken from the diff), more (run again at once: a full batch, or a marker still pending), '
  'oldest_age_s}.';


revoke all on all functions in schema private from public, anon, authenticated, service_role;
