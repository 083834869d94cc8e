-- The tier triggers and what the drainer makes of their rows: the outbox gets one row per real change in the
-- user's transaction (nothing else happens there), and a drain records the desired state, generations, one
-- row per user, reactivation, one event per user and one batched kick.
begin;
select plan(36);
set local client_min_messages = error;

delete from vault.secrets where name in ('project_url', 'fly_kick_secret');
select vault.create_secret('http://functions.test:54321/', 'project_url');
select vault.create_secret('test-provisioner-secret-1', 'fly_kick_secret');
delete from private.tier_outbox;
delete from net.http_request_queue;

create function pg_temp.outbox(p_user uuid) returns integer
language sql as $$ select count(*)::integer from private.tier_outbox where user_id = p_user $$;
create function pg_temp.app(p_user uuid) returns public.user_fly_apps
language sql as $$ select * from public.user_fly_apps where user_id = p_user $$;
create function pg_temp.events(p_user uuid) returns text[]
language sql as $$
  select coalesce(array_agg(event_type order by seq), '{}') from public.user_fly_app_events where user_id = p_user
$$;
-- Batched kicks queued so far, oldest first.
create function pg_temp.kicks() returns table (url text, body jsonb, headers jsonb, timeout int)
language sql as $$
  select q.url, convert_from(q.body, 'utf8')::jsonb, q.headers, q.timeout_milliseconds
  from net.http_request_queue q order by q.id
$$;

insert into auth.users (id) values
  ('22222222-0000-0000-0000-000000000001'), ('22222222-0000-0000-0000-000000000002'),
  ('22222222-0000-0000-0000-000000000003'), ('22222222-0000-0000-0000-000000000004');

-- 1. The trigger only appends to the outbox.
insert into public.user_subscriptions (user_id, tier) values ('22222222-0000-0000-0000-000000000001', 'pro');
select is(pg_temp.outbox('22222222-0000-0000-0000-000000000001'), 1, 'insert: one outbox row');
select is(pg_temp.app('22222222-0000-0000-0000-000000000001'), null, 'no app row in the user''s transaction');
select is(pg_temp.events('22222222-0000-0000-0000-000000000001'), '{}'::text[], 'no event in it');
select is((select count(*)::int from net.http_request_queue), 0, 'no HTTP request in it');
update public.user_subscriptions set tier = 'pro', updated_at = now()
where user_id = '22222222-0000-0000-0000-000000000001';
select is(pg_temp.outbox('22222222-0000-0000-0000-000000000001'), 1, 'same tier: no outbox row');
update public.user_subscriptions set updated_at = now() where user_id = '22222222-0000-0000-0000-000000000001';
select is(pg_temp.outbox('22222222-0000-0000-0000-000000000001'), 1, 'another column: no outbox row');
update public.user_subscriptions set tier = 'elite' where user_id = '22222222-0000-0000-0000-000000000001';
select is(pg_temp.outbox('22222222-0000-0000-0000-000000000001'), 2, 'a real tier change: one more row');
select is((select count(*)::int from pg_indexes where schemaname = 'private' and tablename = 'tier_outbox'), 0,
  'the outbox has no index');
select is((select relpersistence from pg_class where oid = 'private.tier_outbox'::regclass), 'p'::"char",
  'the outbox is logged (a committed change survives a crash)');

-- 2. A rolled-back change leaves nothing.
savepoint before_rollback;
insert into public.user_subscriptions (user_id, tier) values ('22222222-0000-0000-0000-000000000004', 'pro');
select is(pg_temp.outbox('22222222-0000-0000-0000-000000000004'), 1, 'inside the transaction: queued');
rollback to savepoint before_rollback;
select is(pg_temp.outbox('22222222-0000-0000-0000-000000000004'), 0, 'after rollback: nothing queued');

-- 3. A drain: desired present, generation 1, due now, one event, one kick for the batch.
insert into public.user_subscriptions (user_id, tier) values ('22222222-0000-0000-0000-000000000002', 'free');
select is((private.drain_tier_outbox() ->> 'drained')::int, 3, 'the drain takes the three outbox rows');
select is((select count(*)::int from private.tier_outbox), 0, 'and empties the outbox');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).desired_state, 'present', 'desired present');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).desired_generation, 1::bigint,
  'two changes of one user collapse into generation 1');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).status, 'pending', 'status pending');
select ok((pg_temp.app('22222222-0000-0000-0000-000000000001')).next_attempt_at <= now(), 'due now');
select is(pg_temp.app('22222222-0000-0000-0000-000000000002'), null, 'a free user gets no row');
select is(pg_temp.events('22222222-0000-0000-0000-000000000001'), array['provision_requested'],
  'one provision_requested event');
select is(
  (select metadata - 'queued_at' from public.user_fly_app_events where user_id = '22222222-0000-0000-0000-000000000001'),
  jsonb_build_object('reason', 'tier_changed', 'tier', 'elite', 'generation', 1, 'changes', 2, 'bulk', false,
    'kick', jsonb_build_object('function', 'provision-user-fly-app', 'request_id', (select max(id) from net.http_request_queue))),
  'the event names the current tier, the generation, the collapsed changes and the kick''s request id');
select results_eq(
  $$select url, body, timeout from pg_temp.kicks()$$,
  $$values ('http://functions.test:54321/functions/v1/provision-user-fly-app'::text,
            '{"user_ids": ["22222222-0000-0000-0000-000000000001"], "reason": "tier_changed"}'::jsonb, 5000)$$,
  'one kick: URL from Vault, body {user_ids, reason}, explicit 5 s timeout');
select is((select headers from pg_temp.kicks()),
  '{"Content-Type": "application/json", "Authorization": "Bearer test-provisioner-secret-1"}'::jsonb,
  'headers: JSON content type and the provisioner secret from Vault as bearer token');

-- 4. The secret is read at drain time: rotate it; a downgrade and an upgrade go out in one kick.
select vault.update_secret((select id from vault.secrets where name = 'fly_kick_secret'), 'rotated-secret-2');
update public.user_subscriptions set tier = 'free' where user_id = '22222222-0000-0000-0000-000000000001';
update public.user_subscriptions set tier = 'pro' where user_id = '22222222-0000-0000-0000-000000000002';
select is((private.drain_tier_outbox() ->> 'users')::int, 2, 'two users in the next drain');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).desired_state, 'absent', 'downgrade: absent');
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).desired_generation, 2::bigint, 'generation 2');
select is((pg_temp.app('22222222-0000-0000-0000-000000000002')).desired_generation, 1::bigint,
  'free -> pro creates the row at generation 1');
select is((select count(*)::int from pg_temp.kicks()), 2, 'one more kick for the whole batch');
select is((select jsonb_array_length(body -> 'user_ids') from pg_temp.kicks() offset 1), 2,
  'naming both users (the provision function reconciles absent users too)');
select is((select headers ->> 'Authorization' from pg_temp.kicks() offset 1), 'Bearer rotated-secret-2',
  'the rotated secret is used at once');
select is(
  (select count(*)::int from pg_proc p where p.prosrc like '%rotated-secret-2%' or p.prosrc like '%test-provisioner%'),
  0, 'no function source holds a secret value');

-- 5. The engine marks it deleted; an upgrade reactivates the same row, never a second one.
update public.user_fly_apps set status = 'deleted', deleted_at = now(), observed_generation = 2,
  next_attempt_at = null, fly_app_name = 'vyx-user-abc'
where user_id = '22222222-0000-0000-0000-000000000001';
create temp table before_reactivation as select id from public.user_fly_apps
  where user_id = '22222222-0000-0000-0000-000000000001';
update public.user_subscriptions set tier = 'pro' where user_id = '22222222-0000-0000-0000-000000000001';
select private.drain_tier_outbox();
select is((pg_temp.app('22222222-0000-0000-0000-000000000001')).id, (select id from before_reactivation),
  'the same row is reactivated');
select is(
  (select array[status, fly_app_name, deleted_at::text, desired_generation::text]
   from public.user_fly_apps where user_id = '22222222-0000-0000-0000-000000000001'),
  array['pending', 'vyx-user-abc', null, '3'], 'pending, name kept, deleted_at cleared, generation 3');
select is(pg_temp.events('22222222-0000-0000-0000-000000000001'),
  array['provision_requested', 'deprovision_requested', 'provision_requested'], 'one event per drained change');

-- 6. Deleting the subscription, or the auth user (cascade), asks for deprovisioning; the row stays.
delete from public.user_subscriptions where user_id = '22222222-0000-0000-0000-000000000002';
insert into public.user_subscriptions (user_id, tier) values ('22222222-0000-0000-0000-000000000003', 'elite');
select private.drain_tier_outbox();
delete from auth.users where id = '22222222-0000-0000-0000-000000000003';
select is(pg_temp.outbox('22222222-0000-0000-0000-000000000003'), 1, 'the cascade delete is queued too');
select private.drain_tier_outbox();
select is((pg_temp.app('22222222-0000-0000-0000-000000000002')).desired_state, 'absent', 'subscription deleted: absent');
select is(
  (select array[desired_state, desired_generation::text] from public.user_fly_apps
   where user_id = '22222222-0000-0000-0000-000000000003'),
  array['absent', '2'], 'auth user deleted: the row survives with desired absent, generation 2');

select * from finish();
rollback;
