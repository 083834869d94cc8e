-- Bulk tier changes: the first 64 changes of a transaction are queued one by one, then ONE marker stands for
-- the rest; a savepoint rolled back takes its count with it; the drainer works the marker off through the
-- diff of current and recorded tiers, a batch at a time, and consumes it once the diff is empty (upgrades,
-- paid-to-paid changes, downgrades and deleted subscriptions alike).
begin;
select plan(25);
set local client_min_messages = error;

delete from vault.secrets where name in ('project_url', 'fly_kick_secret');
select vault.create_secret('http://functions.test', 'project_url');
select vault.create_secret('bulk-secret-1', 'fly_kick_secret');
delete from private.tier_outbox;
delete from net.http_request_queue;

create function pg_temp.uid(i integer) returns uuid
language sql as $$ select ('66666666-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid $$;
create function pg_temp.queued_rows() returns integer
language sql as $$ select count(*)::integer from private.tier_outbox where user_id is not null $$;
create function pg_temp.markers() returns integer
language sql as $$ select count(*)::integer from private.tier_outbox where user_id is null $$;
-- Drains (with kicks) until the drainer says there is no more; returns the reports.
create function pg_temp.drain_all(p_limit integer) returns jsonb[]
language plpgsql as $$
declare
  v_reports jsonb[] := '{}';
  v_report jsonb;
begin
  for i in 1..50 loop
    v_report := private.drain_tier_outbox(p_limit);
    v_reports := v_reports || v_report;
    exit when not (v_report ->> 'more')::boolean;
  end loop;
  return v_reports;
end $$;
create function pg_temp.kicked_ids() returns uuid[]
language sql as $$
  select coalesce(array_agg(distinct u::uuid), '{}')
  from net.http_request_queue q, jsonb_array_elements_text(convert_from(q.body, 'utf8')::jsonb -> 'user_ids') u
$$;

insert into auth.users (id) select pg_temp.uid(i) from generate_series(1, 150) i;
-- 150 free users, drained (rows of earlier transactions are not this test's concern).
insert into public.user_subscriptions (user_id, tier) select pg_temp.uid(i), 'free' from generate_series(1, 150) i;
select is(pg_temp.queued_rows() + pg_temp.markers(), 65, 'an INSERT of 150 subscriptions: 64 rows and a marker');
select is(current_setting('fly_apps.tier_changes_queued'), 'bulk', 'after the marker the count reads bulk');
select is((pg_temp.drain_all(1000))[1] ->> 'more', 'false', 'free users: one drain finds the diff empty');
select is(pg_temp.markers(), 0, 'the marker is consumed');
select is((select count(*)::int from public.user_fly_apps where user_id = any (array(
  select pg_temp.uid(i) from generate_series(1, 150) i))), 0, 'free users get no row');
select is((select count(*)::int from net.http_request_queue), 0, 'and no kick');

-- 1. A rolled-back savepoint takes its changes and its count with it.
select set_config('fly_apps.tier_changes_queued', '0', true); -- as a new transaction would start
savepoint bulk;
update public.user_subscriptions set tier = 'pro' where user_id = any (array(
  select pg_temp.uid(i) from generate_series(1, 150) i));
select is(pg_temp.markers(), 1, 'inside the savepoint: a marker');
rollback to savepoint bulk;
select is(pg_temp.queued_rows() + pg_temp.markers(), 0, 'rolled back: nothing queued');
select is(current_setting('fly_apps.tier_changes_queued'), '0', 'and the count is back where it was');

-- 2. One UPDATE upgrading 100 users, drained 30 at a time.
update public.user_subscriptions set tier = 'pro' where user_id = any (array(
  select pg_temp.uid(i) from generate_series(1, 100) i));
select is(pg_temp.queued_rows(), 64, 'the first 64 changes are queued one by one');
select is(pg_temp.markers(), 1, 'one marker stands for the other 36');
select is(
  (select array_agg((r ->> 'users') || '/' || (r ->> 'more') order by n)
   from unnest(pg_temp.drain_all(30)) with ordinality as t(r, n)),
  array['30/true', '30/true', '30/true', '10/false'],
  'batches of 30 (queued rows, then queued rows and the diff), then the rest and no more');
select is(pg_temp.markers() + pg_temp.queued_rows(), 0, 'the outbox is empty');
select is(
  (select array[count(*) filter (where desired_state = 'present' and desired_tier = 'pro'
                                 and desired_generation = 1), count(*)]::int[]
   from public.user_fly_apps where user_id = any (array(select pg_temp.uid(i) from generate_series(1, 100) i))),
  array[100, 100], 'all 100 users: present, tier pro, generation 1, one row each');
select is(cardinality(pg_temp.kicked_ids()), 100, 'every one of them named in a kick');
select is((select max(jsonb_array_length(convert_from(body, 'utf8')::jsonb -> 'user_ids'))::int
           from net.http_request_queue), 30, 'no kick names more users than its batch');
select is(
  (select array[count(*) filter (where (metadata ->> 'bulk')::boolean), count(*)]::int[]
   from public.user_fly_app_events where event_type = 'provision_requested'
     and user_id = any (array(select pg_temp.uid(i) from generate_series(1, 100) i))),
  array[36, 100], 'one provision_requested event per user; the marker''s users say bulk');

-- 3. A paid-to-paid change in bulk is a change too (a new generation for the new plan).
delete from net.http_request_queue;
select set_config('fly_apps.tier_changes_queued', '0', true);
update public.user_subscriptions set tier = 'elite' where user_id = any (array(
  select pg_temp.uid(i) from generate_series(1, 100) i));
select from pg_temp.drain_all(1000);
select is(
  (select array[count(*) filter (where desired_tier = 'elite' and desired_generation = 2), count(*)]::int[]
   from public.user_fly_apps where user_id = any (array(select pg_temp.uid(i) from generate_series(1, 100) i))),
  array[100, 100], 'pro -> elite: every row records elite, generation 2');
select is(cardinality(pg_temp.kicked_ids()), 100, 'and every user is kicked');

-- 4. A bulk downgrade and deleted subscriptions.
select set_config('fly_apps.tier_changes_queued', '0', true);
update public.user_subscriptions set tier = 'free' where user_id = any (array(
  select pg_temp.uid(i) from generate_series(1, 70) i));
delete from public.user_subscriptions where user_id = any (array(
  select pg_temp.uid(i) from generate_series(71, 100) i));
select is(pg_temp.markers(), 1, 'one marker for both statements of the transaction');
select from pg_temp.drain_all(1000);
select is(
  (select array[count(*) filter (where desired_state = 'absent' and desired_generation = 3), count(*)]::int[]
   from public.user_fly_apps where user_id = any (array(select pg_temp.uid(i) from generate_series(1, 100) i))),
  array[100, 100], 'downgraded and deleted users: all absent, generation 3');
select is(
  (select count(*)::int from public.user_fly_apps
   where user_id = any (array(select pg_temp.uid(i) from generate_series(71, 100) i)) and desired_tier is null),
  30, 'a deleted subscription records no tier');
select is((select count(*)::int from private.users_with_unrecorded_tier(1000)), 0, 'nothing left in the diff');

-- 5. The diff on its own: a paid subscription without a row, a changed tier, a gone subscription.
alter table public.user_subscriptions disable trigger user;
update public.user_subscriptions set tier = 'pro' where user_id = pg_temp.uid(101);
update public.user_subscriptions set tier = 'pro' where user_id = pg_temp.uid(1);
alter table public.user_subscriptions enable trigger user;
select set_eq($$select private.users_with_unrecorded_tier(1000)$$,
  array[pg_temp.uid(101), pg_temp.uid(1)], 'the diff names exactly the unrecorded users');
select is((select count(*)::int from private.users_with_unrecorded_tier(1)), 1, 'at most p_limit of them');

select * from finish();
rollback;
