-- The private reconcile API: claims and leases, outcomes with backoff, events, drift repair, desired spec.
-- (Two concurrent claimers need two connections: tests/db/claims.test.ts.)
begin;
select plan(56);
set local client_min_messages = error;

-- Only this file's rows may be due in this transaction: park everything else (rolled back at the end).
update public.user_fly_apps set next_attempt_at = null where next_attempt_at is not null;

insert into auth.users (id) values
  ('44444444-0000-0000-0000-000000000001'), ('44444444-0000-0000-0000-000000000002'),
  ('44444444-0000-0000-0000-000000000003'), ('44444444-0000-0000-0000-000000000004');
insert into public.user_subscriptions (user_id, tier) values
  ('44444444-0000-0000-0000-000000000001', 'pro'), ('44444444-0000-0000-0000-000000000002', 'pro'),
  ('44444444-0000-0000-0000-000000000003', 'elite');
select from private.drain_tier_outbox(1000, false); -- the tier outbox's drainer records the desired state
create temp table ids as
  select user_id, id from public.user_fly_apps where user_id::text like '44444444-%';
create function pg_temp.id(p_user uuid) returns uuid language sql as $$ select id from ids where user_id = p_user $$;
create function pg_temp.app(p_user uuid) returns public.user_fly_apps
language sql as $$ select * from public.user_fly_apps where user_id = p_user $$;

-- claim_user_fly_app
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'worker-a', 60) ->> 'status', 'claimed',
  'a free row is claimed');
select is((pg_temp.app('44444444-0000-0000-0000-000000000001')).lease_owner, 'worker-a', 'lease owner recorded');
select ok((pg_temp.app('44444444-0000-0000-0000-000000000001')).lease_expires_at
          between now() + interval '59 seconds' and now() + interval '61 seconds', 'lease expires in 60 s');
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'worker-b', 60) ->> 'status', 'held',
  'another owner gets "held"');
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'worker-b', 60) #>> '{app,lease_owner}',
  'worker-a', '"held" says who holds it');
select is((pg_temp.app('44444444-0000-0000-0000-000000000001')).lease_owner, 'worker-a', 'and the lease is unchanged');
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'worker-a', 120) ->> 'status', 'claimed',
  'the holder can renew');
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000009', 'worker-a', 60),
  '{"status": "not_found", "app": null}'::jsonb, 'a user without a row: not_found');
select throws_ok($$select private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', '', 60)$$, '22004', null,
  'an owner is required');

-- An expired lease can be taken over; the old holder can then record nothing.
update public.user_fly_apps set lease_expires_at = now() - interval '1 second'
where user_id = '44444444-0000-0000-0000-000000000001';
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'worker-b', 60) ->> 'status', 'claimed',
  'an expired lease is taken over');
select throws_ok(
  format($$select private.record_reconcile_success(%L, 'worker-a', 1)$$, pg_temp.id('44444444-0000-0000-0000-000000000001')),
  '55000', null, 'the previous holder cannot record a success');
select throws_ok(
  format($$select private.record_reconcile_failure(%L, 'worker-a', 1, 'x', true)$$,
         pg_temp.id('44444444-0000-0000-0000-000000000001')),
  '55000', null, 'nor a failure');
select is(private.release_user_fly_app(pg_temp.id('44444444-0000-0000-0000-000000000001'), 'worker-a'), false,
  'nor release it');
select is(private.renew_user_fly_app_lease(pg_temp.id('44444444-0000-0000-0000-000000000001'), 'worker-a', 60), false,
  'nor renew it');
select is(private.renew_user_fly_app_lease(pg_temp.id('44444444-0000-0000-0000-000000000001'), 'worker-b', 600), true,
  'the new holder renews');
select is(private.release_user_fly_app(pg_temp.id('44444444-0000-0000-0000-000000000001'), 'worker-b'), true,
  'and releases');
select is((pg_temp.app('44444444-0000-0000-0000-000000000001')).lease_owner, null, 'released');
select ok((pg_temp.app('44444444-0000-0000-0000-000000000001')).next_attempt_at is not null, 'a released row stays due');

-- claim_due_user_fly_apps: due rows, oldest first, limit, never a leased row.
update public.user_fly_apps set next_attempt_at = now() - interval '3 minutes'
where user_id = '44444444-0000-0000-0000-000000000003';
update public.user_fly_apps set next_attempt_at = now() + interval '1 hour'
where user_id = '44444444-0000-0000-0000-000000000002';
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'holder', 60) ->> 'status', 'claimed',
  'row 1 is leased by someone');
select is(
  (select array_agg(x ->> 'user_id') from private.claim_due_user_fly_apps('sweeper', 10, 60) x),
  array['44444444-0000-0000-0000-000000000003'],
  'only the due, unleased row is claimed (not the leased one, not the one due in an hour)');
select is((pg_temp.app('44444444-0000-0000-0000-000000000003')).lease_owner, 'sweeper', 'leased to the sweeper');
select is((select count(*)::int from private.claim_due_user_fly_apps('sweeper-2', 10, 60)), 0,
  'a second sweep finds nothing');
update public.user_fly_apps set next_attempt_at = now() - interval '1 minute', lease_owner = null,
  lease_expires_at = null where user_id::text like '44444444-%';
update public.user_fly_apps set next_attempt_at = now() - interval '2 minutes'
where user_id = '44444444-0000-0000-0000-000000000003';
select is(
  (select array_agg(x ->> 'user_id') from private.claim_due_user_fly_apps('sweeper-3', 1, 60) x),
  array['44444444-0000-0000-0000-000000000003'], 'limit 1 takes the oldest due row');
select is((select count(*)::int from private.claim_due_user_fly_apps('sweeper-3', 0, 60)), 0, 'limit 0 takes none');

-- Success: observed generation, counters reset, lease released, not due, events appended in order.
update public.user_fly_apps set retry_count = 2, error_message = 'earlier', lease_owner = null, lease_expires_at = null
where user_id = '44444444-0000-0000-0000-000000000001';
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'w1', 60) ->> 'status', 'claimed', 'claim');
select is(
  private.record_reconcile_success(pg_temp.id('44444444-0000-0000-0000-000000000001'), 'w1', 1,
    '{"status": "active", "fly_app_name": "vyx-user-0123456789ab", "machine_id": "m1", "region": "sin",
      "cpu_kind": "shared", "cpu_count": 2, "memory_mb": 512, "secrets_version": 7, "deployed_at": "2026-01-01T00:00:00Z"}',
    '[{"event_type": "provision_completed", "status": "ok", "metadata": {"machine_id": "m1"}}]') ->> 'status',
  'active', 'success applies the patch');
select results_eq(
  $$select observed_generation, retry_count, error_message, next_attempt_at, lease_owner, machine_id, secrets_version
    from public.user_fly_apps where user_id = '44444444-0000-0000-0000-000000000001'$$,
  $$values (1::bigint, 0, null::text, null::timestamptz, null::text, 'm1'::text, 7::bigint)$$,
  'observed_generation set, retries reset, not due, lease released');
select is(
  (select event_type || ':' || status || ':' || (metadata ->> 'machine_id') from public.user_fly_app_events
   where user_id = '44444444-0000-0000-0000-000000000001' order by seq desc limit 1),
  'provision_completed:ok:m1', 'the success event is appended');
select is(public.get_user_fly_app_status('44444444-0000-0000-0000-000000000001') ->> 'in_sync', 'true',
  'status says in sync');

-- A tier change during a reconcile keeps the row due after the success of the older generation.
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'w2', 60) ->> 'status', 'claimed', 'claim');
update public.user_subscriptions set tier = 'elite' where user_id = '44444444-0000-0000-0000-000000000001';
select from private.drain_tier_outbox(1000, false); -- the tier outbox's drainer records the desired state
select ok((private.record_reconcile_success(pg_temp.id('44444444-0000-0000-0000-000000000001'), 'w2', 1)
           ->> 'next_attempt_at') is not null, 'success of a superseded generation leaves the row due');
select is((pg_temp.app('44444444-0000-0000-0000-000000000001')).observed_generation, 1::bigint,
  'observed_generation does not pass what was reconciled');

-- The patch whitelist.
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'w3', 60) ->> 'status', 'claimed', 'claim');
select throws_ok(
  format($$select private.record_reconcile_success(%L, 'w3', 2, '{"desired_state": "absent"}')$$,
         pg_temp.id('44444444-0000-0000-0000-000000000001')),
  '22023', null, 'the patch cannot touch desired state');
select throws_ok(
  format($$select private.record_reconcile_success(%L, 'w3', 2, '{"status": "running"}')$$,
         pg_temp.id('44444444-0000-0000-0000-000000000001')),
  '23514', null, 'the patch cannot set an unknown status');

-- Retryable failures: backoff with full jitter within bounds, retry_count, alert on the 3rd.
create temp table outcomes (n int, result jsonb);
do $$
declare
  v_id uuid := pg_temp.id('44444444-0000-0000-0000-000000000002');
begin
  update public.user_fly_apps set next_attempt_at = null where id = v_id;
  for i in 1..4 loop
    perform private.claim_user_fly_app('44444444-0000-0000-0000-000000000002', 'w', 60);
    insert into outcomes values (i, private.record_reconcile_failure(v_id, 'w', 1, 'HTTP 503 from Fly', true,
      '{}', '[{"event_type": "provision_failed", "status": "error", "error_details": "HTTP 503"}]', 10, 25, 3));
  end loop;
end
$$;
select is((select array_agg((result #>> '{app,retry_count}')::int order by n) from outcomes), array[1, 2, 3, 4],
  'retry_count counts consecutive failures');
select is((select array_agg(result #>> '{app,status}' order by n) from outcomes), array['failed', 'failed', 'failed', 'failed'],
  'status failed');
select ok((select bool_and((result ->> 'retry_in_seconds')::float8 >= 0
                           and (result ->> 'retry_in_seconds')::float8 < least(25, 10 * 2 ^ (n - 1)))
           from outcomes),
  'delays are within [0, min(max, base * 2^(n-1)))');
select ok((select bool_and(abs(extract(epoch from ((result #>> '{app,next_attempt_at}')::timestamptz - now()))
                               - (result ->> 'retry_in_seconds')::float8) < 0.01) from outcomes),
  'next_attempt_at = now() + delay');
select is((select array_agg((result ->> 'alert_raised')::boolean order by n) from outcomes),
  array[false, false, true, false], 'alert raised once, on the 3rd consecutive failure');
select is(
  (select count(*)::int from public.user_fly_app_events
   where user_id = '44444444-0000-0000-0000-000000000002' and event_type = 'alert_raised'),
  1, 'one alert_raised event');
select is(
  (select count(*)::int from public.user_fly_app_events
   where user_id = '44444444-0000-0000-0000-000000000002' and event_type = 'provision_failed'),
  4, 'the caller''s failure events are appended');
select is((pg_temp.app('44444444-0000-0000-0000-000000000002')).error_message, 'HTTP 503 from Fly', 'error message kept');

-- Jitter really varies (full jitter, not a fixed delay): 200 draws at the cap.
do $$
declare
  v_id uuid := pg_temp.id('44444444-0000-0000-0000-000000000002');
begin
  for i in 1..200 loop
    perform private.claim_user_fly_app('44444444-0000-0000-0000-000000000002', 'j', 60);
    insert into outcomes values (100 + i, private.record_reconcile_failure(v_id, 'j', 1, 'x', true, '{}', '[]', 10, 100, 1000));
  end loop;
end
$$;
select ok((select min((result ->> 'retry_in_seconds')::float8) < 20 and max((result ->> 'retry_in_seconds')::float8) > 80
           from outcomes where n > 100), 'delays spread over [0, cap)');

-- Permanent failure: error, not due, alert at once. A new tier change re-drives it.
select is(private.release_user_fly_app(pg_temp.id('44444444-0000-0000-0000-000000000003'), 'sweeper-3'), true,
  'the sweeper releases row 3');
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000003', 'p', 60) ->> 'status', 'claimed', 'claim');
select is(
  private.record_reconcile_failure(pg_temp.id('44444444-0000-0000-0000-000000000003'), 'p', 1,
    'Fly 400: invalid guest size', false) - 'app',
  '{"alert_raised": true, "stale": false, "retry_in_seconds": null}'::jsonb, 'permanent failure alerts at once');
select results_eq(
  $$select status, next_attempt_at, lease_owner from public.user_fly_apps
    where user_id = '44444444-0000-0000-0000-000000000003'$$,
  $$values ('error'::text, null::timestamptz, null::text)$$, 'status error, not due, released');
update public.user_subscriptions set tier = 'pro' where user_id = '44444444-0000-0000-0000-000000000003';
select from private.drain_tier_outbox(1000, false); -- the tier outbox's drainer records the desired state
select results_eq(
  $$select status, next_attempt_at is not null, retry_count from public.user_fly_apps
    where user_id = '44444444-0000-0000-0000-000000000003'$$,
  $$values ('pending'::text, true, 0)$$, 'a new tier change makes an errored row pending and due');

-- A failure of a superseded generation does not delay the new one.
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000003', 'q', 60) ->> 'status', 'claimed', 'claim');
update public.user_subscriptions set tier = 'free' where user_id = '44444444-0000-0000-0000-000000000003';
select from private.drain_tier_outbox(1000, false); -- the tier outbox's drainer records the desired state
select is(
  (private.record_reconcile_failure(pg_temp.id('44444444-0000-0000-0000-000000000003'), 'q', 2, 'x', true)
   - 'app') || jsonb_build_object('due', (pg_temp.app('44444444-0000-0000-0000-000000000003')).next_attempt_at <= now()),
  '{"alert_raised": false, "stale": true, "retry_in_seconds": null, "due": true}'::jsonb,
  'stale failure: due now, no alert');

-- Events, desired spec, drift repair.
select ok(private.append_user_fly_app_event('44444444-0000-0000-0000-000000000001', 'repaired', 'ok',
  '{"what": "machine started"}') is not null, 'append_user_fly_app_event returns the id');
select throws_ok($$select private.append_user_fly_app_event('44444444-0000-0000-0000-000000000001', 'Bad Type')$$,
  '22023', null, 'event types are snake_case');
select is(
  private.get_desired_spec('44444444-0000-0000-0000-000000000002') - 'desired_generation' - 'user_id',
  '{"tier": "pro", "desired_state": "present", "plan": {"tier": "pro", "region": "sin", "cpu_kind": "shared",
    "cpus": 2, "memory_mb": 512, "image": null, "public_services": true, "monthly_cost_estimate_usd": null}}'::jsonb,
  'desired spec from the current tier and plan');
-- Paid user without a row (e.g. the trigger was disabled during a bulk import).
alter table public.user_subscriptions disable trigger on_user_subscription_change;
insert into public.user_subscriptions (user_id, tier) values ('44444444-0000-0000-0000-000000000004', 'elite');
alter table public.user_subscriptions enable trigger on_user_subscription_change;
select ok('44444444-0000-0000-0000-000000000004'::uuid in (select private.repair_desired_state_drift(1000)),
  'drift repair reports the paid user without a row');
select results_eq(
  $$select desired_state, desired_generation, next_attempt_at <= now() from public.user_fly_apps
    where user_id = '44444444-0000-0000-0000-000000000004'$$,
  $$values ('present'::text, 1::bigint, true)$$, 'and creates the row, due now');

select * from finish();
rollback;
