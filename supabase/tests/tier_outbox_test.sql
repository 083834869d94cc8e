-- The tier-outbox drainer: rapid flips collapse to the last tier, the batch limit, a missing or bad Vault
-- secret (warning, outbox rows kept, throttled events), a pg_net error (redacted), the sweep's no-kick mode,
-- the oldest-age probe, the schedule, and who may call it. (Two concurrent drainers: tests/db/kick.test.ts.)
begin;
select plan(24);
set local client_min_messages = error;

delete from vault.secrets where name in ('project_url', 'fly_kick_secret');
delete from private.tier_outbox;
delete from net.http_request_queue;

insert into auth.users (id) select ('55555555-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid
from generate_series(1, 5) i;

-- 1. Rapid flips inside and across transactions collapse to the last tier.
insert into public.user_subscriptions (user_id, tier) values ('55555555-0000-0000-0000-000000000001', 'free');
update public.user_subscriptions set tier = 'pro' where user_id = '55555555-0000-0000-0000-000000000001';
update public.user_subscriptions set tier = 'free' where user_id = '55555555-0000-0000-0000-000000000001';
update public.user_subscriptions set tier = 'elite' where user_id = '55555555-0000-0000-0000-000000000001';
select is((select count(*)::int from private.tier_outbox), 4, 'four changes queued');
select ok(private.tier_outbox_oldest_age_s() >= 0, 'the oldest age is known');

-- 2. Vault missing: nothing consumed, a warning event per waiting user, not one per run.
select is(private.drain_tier_outbox() ->> 'problem', 'vault secret project_url is missing',
  'missing project_url: the report names it');
select is((select count(*)::int from private.tier_outbox), 4, 'the outbox rows are kept');
select is(
  (select array[event_type, status, error_details] from public.user_fly_app_events
   where user_id = '55555555-0000-0000-0000-000000000001'),
  array['kick_failed', 'warning', 'vault secret project_url is missing'], 'a kick_failed warning event');
select is((private.drain_tier_outbox() ->> 'warned_users')::int, 0, 'the next run does not repeat the event');
select is(
  (select count(*)::int from public.user_fly_apps where user_id = '55555555-0000-0000-0000-000000000001'),
  0, 'no desired state recorded while the kick cannot be sent');
select vault.create_secret('http://functions.test', 'project_url');
select is(private.drain_tier_outbox() ->> 'problem', 'vault secret fly_kick_secret is missing',
  'then the missing secret is named');
select vault.create_secret('outbox-secret-1', 'fly_kick_secret');
select vault.update_secret((select id from vault.secrets where name = 'project_url'), 'functions.test');
select is(private.drain_tier_outbox() ->> 'problem', 'vault secret project_url is not an http(s) URL',
  'a URL without scheme is refused');
select is((select count(*)::int from net.http_request_queue), 0, 'no request queued so far');

-- 3. Vault fixed: one drain, the last tier, generation 1, nothing lost.
select vault.update_secret((select id from vault.secrets where name = 'project_url'), 'http://functions.test');
select is(private.drain_tier_outbox() - 'oldest_age_s' - 'request_id',
  '{"drained": 4, "users": 1, "kicked": true, "more": false,
    "user_ids": ["55555555-0000-0000-0000-000000000001"]}'::jsonb,
  'the report: four rows, one user, one kick');
select is(
  (select array[desired_state, desired_generation::text] from public.user_fly_apps
   where user_id = '55555555-0000-0000-0000-000000000001'),
  array['present', '1'], 'the last tier (elite) wins: present, generation 1');
select is((select metadata ->> 'tier' from public.user_fly_app_events
           where user_id = '55555555-0000-0000-0000-000000000001' and event_type = 'provision_requested'),
  'elite', 'the event names the current tier');
select is(private.tier_outbox_oldest_age_s(), 0::double precision, 'an empty outbox has age 0');
select is(private.drain_tier_outbox() - 'oldest_age_s',
  '{"drained": 0, "users": 0, "kicked": false, "more": false, "user_ids": []}'::jsonb, 'an empty drain kicks nothing');

-- 4. The batch limit.
insert into public.user_subscriptions (user_id, tier)
select ('55555555-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, 'pro' from generate_series(2, 5) i;
select is((private.drain_tier_outbox(3) ->> 'drained')::int, 3, 'at most p_limit rows per drain');
select is((private.drain_tier_outbox(3) ->> 'drained')::int, 1, 'the rest on the next');

-- 5. pg_net failing: the state is recorded, the events carry the (redacted) problem.
-- (As the non-superuser postgres: pg_net grants ALL on its queue to PUBLIC, TRIGGER included.)
create function public.reject_outbox_kick() returns trigger language plpgsql as $$
begin
  raise exception 'queue rejects this row' using errcode = '23514';
end $$;
-- (Dropping it needs ownership of the queue: a setting switches it off again.)
set local test.reject_kicks = 'on';
create trigger reject_all before insert on net.http_request_queue
  for each row when (new.headers::text like '%outbox-secret%' and current_setting('test.reject_kicks', true) = 'on')
  execute function public.reject_outbox_kick();
update public.user_subscriptions set tier = 'free' where user_id = '55555555-0000-0000-0000-000000000002';
select matches(private.drain_tier_outbox() ->> 'problem', '^pg_net error 23514', 'a pg_net error is reported');
select is(
  (select array[a.desired_state, e.status] from public.user_fly_apps a
   join public.user_fly_app_events e on e.user_id = a.user_id and e.event_type = 'deprovision_requested'
   where a.user_id = '55555555-0000-0000-0000-000000000002'),
  array['absent', 'warning'], 'the desired state is recorded (the sweep catches up), the event is a warning');
select is(
  (select count(*)::int from public.user_fly_app_events
   where metadata::text like '%outbox-secret%' or error_details like '%outbox-secret%'),
  0, 'no event holds a secret value');
set local test.reject_kicks = 'off';

-- 6. The sweep's mode: no Vault needed, no kick.
delete from vault.secrets where name = 'project_url';
update public.user_subscriptions set tier = 'free' where user_id = '55555555-0000-0000-0000-000000000003';
select is(private.drain_tier_outbox(1000, false) - 'oldest_age_s',
  '{"drained": 1, "users": 1, "kicked": false, "more": false,
    "user_ids": ["55555555-0000-0000-0000-000000000003"]}'::jsonb,
  'p_kick = false drains without Vault and returns the users for the sweep to reconcile');

-- 7. Schedule and privileges.
select is((select command from cron.job where jobname = 'drain-tier-outbox'), 'select private.drain_tier_outbox()',
  'pg_cron runs the drainer');
select is((select schedule from cron.job where jobname = 'drain-tier-outbox'),
  case when (select (regexp_match(extversion, '^(\d+)\.(\d+)'))::int[] >= array[1, 5] from pg_extension
             where extname = 'pg_cron') then '1 seconds' else '* * * * *' end,
  'every second on pg_cron >= 1.5, every minute before');
set local role service_role;
select throws_ok($$select private.drain_tier_outbox()$$, '42501', null, 'service_role cannot call the drainer');
reset role;

select * from finish();
rollback;
