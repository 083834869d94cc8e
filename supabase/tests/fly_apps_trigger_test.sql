-- The tier-change trigger: desired state, generations, one row per user, reactivation, the queued kick, and
-- kicks that cannot be sent (which must never fail the user's statement).
begin;
select plan(49);
set local client_min_messages = error; -- the expected kick warnings would clutter pg_prove's output

-- Vault as a project has it (values local to this transaction).
delete from vault.secrets where name in ('project_url', 'fly_provisioner_secret');
select vault.create_secret('http://functions.test:54321/', 'project_url');
select vault.create_secret('test-provisioner-secret-1', 'fly_provisioner_secret');

-- Kicks queued for a user, oldest first.
create function pg_temp.kicks(p_user uuid) returns table (url text, body jsonb, headers jsonb, timeout int)
language sql as $$
  select q.url, convert_from(q.body, 'utf8')::jsonb, q.headers, q.timeout_milliseconds
  from net.http_request_queue q
  where convert_from(q.body, 'utf8')::jsonb ->> 'user_id' = p_user::text
  order by q.id
$$;
create function pg_temp.app(p_user uuid) returns public.user_fly_apps
language sql as $$ select * from public.user_fly_apps where user_id = p_user $$;
create function pg_temp.events(p_user uuid) returns text[]
language sql as $$
  select coalesce(array_agg(event_type order by seq), '{}') from public.user_fly_app_events where user_id = p_user
$$;

insert into auth.users (id) values
  ('22222222-0000-0000-0000-000000000001'), ('22222222-0000-0000-0000-000000000002'),
  ('22222222-0000-0000-0000-000000000003'), ('22222222-0000-0000-0000-000000000004'),
  ('22222222-0000-0000-0000-000000000005');

-- 1. Insert as pro: a row, desired present, generation 1, due now, one provision kick.
insert into public.user_subscriptions (user_id, tier) values ('22222222-0000-0000-0000-000000000001', 'pro');
select is((select count(*)::int from public.user_fly_apps where user_id = '22222222-0000-0000-0000-000000000001'), 1,
  'insert as pro creates the row');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).desired_state, 'present', 'desired present');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).desired_generation, 1::bigint, 'generation 1');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).status, 'pending', 'status pending');
select ok((pg_temp.app('22222222-0000-0000-0000-000000000001')).next_attempt_at <= now(), 'due now');
select results_eq(
  $$select url, body, timeout from pg_temp.kicks('22222222-0000-0000-0000-000000000001')$$,
  $$values ('http://functions.test:54321/functions/v1/provision-user-fly-app'::text,
            '{"user_id": "22222222-0000-0000-0000-000000000001", "generation": 1, "reason": "subscription_created"}'::jsonb,
            5000)$$,
  'one provision kick: URL from Vault, body {user_id, generation, reason}, explicit 5 s timeout');
select is(
  (select headers from pg_temp.kicks('22222222-0000-0000-0000-000000000001')),
  '{"Content-Type": "application/json", "Authorization": "Bearer test-provisioner-secret-1"}'::jsonb,
  'headers: JSON content type and the provisioner secret from Vault as bearer token');
select is(pg_temp.events('22222222-0000-0000-0000-000000000001'), array['provision_requested'],
  'a provision_requested event');
select is(
  (select (metadata -> 'kick' ->> 'request_id')::bigint from public.user_fly_app_events
   where user_id = '22222222-0000-0000-0000-000000000001'),
  (select max(id) from net.http_request_queue), 'the event records the pg_net request id');

-- 2. The secret is read when the trigger runs, not baked in: rotate it and change tier.
select vault.update_secret((select id from vault.secrets where name = 'fly_provisioner_secret'), 'rotated-secret-2');
update public.user_subscriptions set tier = 'elite' where user_id = '22222222-0000-0000-0000-000000000001';
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).desired_generation, 2::bigint,
  'pro -> elite bumps the generation');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).desired_state, 'present', 'elite stays present');
select is(
  (select headers ->> 'Authorization' from pg_temp.kicks('22222222-0000-0000-0000-000000000001') offset 1),
  'Bearer rotated-secret-2', 'the rotated secret is used at once');
select is(
  (select count(*)::int from pg_proc p where p.prosrc like '%rotated-secret-2%' or p.prosrc like '%test-provisioner%'),
  0, 'no function source holds a secret value');

-- 3. Same tier again, or another column: nothing happens.
update public.user_subscriptions set tier = 'elite', updated_at = now()
where user_id = '22222222-0000-0000-0000-000000000001';
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).desired_generation, 2::bigint,
  'an UPDATE that keeps the tier does not bump the generation');
select is((select count(*)::int from pg_temp.kicks('22222222-0000-0000-0000-000000000001')), 2,
  'and queues no kick');

-- 4. Downgrade: desired absent, generation bumped, deprovision kick; the row stays.
update public.user_subscriptions set tier = 'free' where user_id = '22222222-0000-0000-0000-000000000001';
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).desired_state, 'absent', 'downgrade: absent');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).desired_generation, 3::bigint, 'generation 3');
select is(
  (select url || ' ' || (body ->> 'generation') || ' ' || (body ->> 'reason')
   from pg_temp.kicks('22222222-0000-0000-0000-000000000001') offset 2),
  'http://functions.test:54321/functions/v1/deprovision-user-fly-app 3 tier_changed', 'deprovision kick');

-- 5. The engine marks it deleted; an upgrade reactivates the same row, never a second one.
update public.user_fly_apps set status = 'deleted', deleted_at = now(), observed_generation = 3,
  next_attempt_at = null, fly_app_name = 'vyx-user-abc'
where user_id = '22222222-0000-0000-0000-000000000001';
select is(
  (select array[id::text, fly_app_name] from public.user_fly_apps where user_id = '22222222-0000-0000-0000-000000000001'),
  (select array[id::text, 'vyx-user-abc'] from public.user_fly_apps where user_id = '22222222-0000-0000-0000-000000000001'),
  'precondition: deleted row with an app name');
create temp table before_reactivation as select id from public.user_fly_apps
  where user_id = '22222222-0000-0000-0000-000000000001';
update public.user_subscriptions set tier = 'pro' where user_id = '22222222-0000-0000-0000-000000000001';
select is((select count(*)::int from public.user_fly_apps where user_id = '22222222-0000-0000-0000-000000000001'), 1,
  'still exactly one row');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).id, (select id from before_reactivation),
  'the same row is reactivated');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).status, 'pending', 'reactivated row is pending');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).deleted_at, null, 'deleted_at cleared');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).fly_app_name, 'vyx-user-abc',
  'the recorded app name is kept');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).desired_generation, 4::bigint, 'generation 4');
select ok((pg_temp.app('22222222-0000-0000-0000-000000000001')).observed_generation < 4, 'not in sync until reconciled');
select is(pg_temp.events('22222222-0000-0000-0000-000000000001'),
  array['provision_requested', 'provision_requested', 'deprovision_requested', 'provision_requested'],
  'one event per change, in order');

-- 6. A free user never gets a row; upgrading later creates it.
insert into public.user_subscriptions (user_id, tier) values ('22222222-0000-0000-0000-000000000002', 'free');
select is(pg_temp.app('22222222-0000-0000-0000-000000000002'), null, 'a free user has no row');
select is((select count(*)::int from pg_temp.kicks('22222222-0000-0000-0000-000000000002')), 0, 'and no kick');
update public.user_subscriptions set tier = 'pro' where user_id = '22222222-0000-0000-0000-000000000002';
select is((pg_temp.app('22222222-0000-0000-0000-000000000002')).desired_generation, 1::bigint,
  'free -> pro creates the row at generation 1');
select is((select body ->> 'reason' from pg_temp.kicks('22222222-0000-0000-0000-000000000002')), 'tier_changed',
  'with a provision kick');

-- 7. Deleting the subscription, and deleting the auth user (cascade), ask for deprovisioning; rows stay.
delete from public.user_subscriptions where user_id = '22222222-0000-0000-0000-000000000002';
select is((pg_temp.app('22222222-0000-0000-0000-000000000002')).desired_state, 'absent', 'subscription deleted: absent');
select is((select body ->> 'reason' from pg_temp.kicks('22222222-0000-0000-0000-000000000002') offset 1),
  'subscription_deleted', 'deprovision kick with reason subscription_deleted');
insert into public.user_subscriptions (user_id, tier) values ('22222222-0000-0000-0000-000000000003', 'elite');
delete from auth.users where id = '22222222-0000-0000-0000-000000000003';
select is((pg_temp.app('22222222-0000-0000-0000-000000000003')).desired_state, 'absent',
  'auth user deleted: the row survives with desired absent');
select is((pg_temp.app('22222222-0000-0000-0000-000000000003')).desired_generation, 2::bigint, 'generation 2');

-- 8. A rolled-back change leaves nothing queued and no row.
savepoint before_rollback;
insert into public.user_subscriptions (user_id, tier) values ('22222222-0000-0000-0000-000000000004', 'pro');
select is((select count(*)::int from pg_temp.kicks('22222222-0000-0000-0000-000000000004')), 1,
  'inside the transaction the kick is queued');
rollback to savepoint before_rollback;
select is((select count(*)::int from pg_temp.kicks('22222222-0000-0000-0000-000000000004')), 0,
  'after rollback nothing is queued');
select is(pg_temp.app('22222222-0000-0000-0000-000000000004'), null, 'and there is no row');

-- 9. Missing Vault secrets: the statement succeeds, the state is recorded, a warning event is written.
delete from vault.secrets where name = 'project_url';
select lives_ok(
  $$insert into public.user_subscriptions (user_id, tier) values ('22222222-0000-0000-0000-000000000004', 'pro')$$,
  'missing project_url: the insert still succeeds');
select is((pg_temp.app('22222222-0000-0000-0000-000000000004')).desired_generation, 1::bigint,
  'and the desired state is recorded');
select is((select count(*)::int from pg_temp.kicks('22222222-0000-0000-0000-000000000004')), 0, 'nothing is queued');
select results_eq(
  $$select event_type, status, error_details from public.user_fly_app_events
    where user_id = '22222222-0000-0000-0000-000000000004' order by seq$$,
  $$values ('provision_requested'::text, 'warning'::text, null::text),
           ('kick_failed', 'warning', 'vault secret project_url is missing')$$,
  'warning events name the missing secret');

select vault.create_secret('http://functions.test:54321', 'project_url');
delete from vault.secrets where name = 'fly_provisioner_secret';
update public.user_subscriptions set tier = 'elite' where user_id = '22222222-0000-0000-0000-000000000004';
select is(
  (select error_details from public.user_fly_app_events
   where user_id = '22222222-0000-0000-0000-000000000004' and event_type = 'kick_failed' order by seq desc limit 1),
  'vault secret fly_provisioner_secret is missing', 'missing secret: kick_failed, and no unauthenticated request');
select is((select count(*)::int from pg_temp.kicks('22222222-0000-0000-0000-000000000004')), 0,
  'still nothing queued');

-- 10. A bad URL.
select vault.create_secret('test-provisioner-secret-3', 'fly_provisioner_secret');
select vault.update_secret((select id from vault.secrets where name = 'project_url'), 'functions.test:54321');
select lives_ok(
  $$update public.user_subscriptions set tier = 'pro' where user_id = '22222222-0000-0000-0000-000000000004'$$,
  'a URL without scheme does not fail the update');
select is(
  (select error_details from public.user_fly_app_events
   where user_id = '22222222-0000-0000-0000-000000000004' and event_type = 'kick_failed' order by seq desc limit 1),
  'vault secret project_url is not an http(s) URL', 'bad URL: kick_failed event');

-- 11. pg_net itself failing (here: its queue rejects the row) is caught too, and the secret is redacted.
select vault.update_secret((select id from vault.secrets where name = 'project_url'), 'http://functions.test:54321');
-- (As the non-superuser postgres: pg_net grants ALL on its queue to PUBLIC, TRIGGER included.)
create function public.reject_kick() returns trigger language plpgsql as $$
begin
  raise exception 'queue rejects this row' using errcode = '23514';
end $$;
create trigger reject_all before insert on net.http_request_queue
  for each row when (new.headers::text like '%test-provisioner%') execute function public.reject_kick();
select lives_ok(
  $$update public.user_subscriptions set tier = 'free' where user_id = '22222222-0000-0000-0000-000000000004'$$,
  'a pg_net error does not fail the update');
select matches(
  (select error_details from public.user_fly_app_events
   where user_id = '22222222-0000-0000-0000-000000000004' and event_type = 'kick_failed' order by seq desc limit 1),
  '^pg_net error 23514', 'pg_net error: kick_failed event with the SQLSTATE');
select is(
  (select count(*)::int from public.user_fly_app_events
   where metadata::text like '%test-provisioner-secret%' or error_details like '%test-provisioner-secret%'),
  0, 'no event holds a secret value');

select * from finish();
rollback;
