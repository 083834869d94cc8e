-- The controller's storage primitives: claims and leases, outcomes (lease fence, patch whitelist, generation
-- fence, events), observations, fleet states, drift repair, desired spec, status. Backoff and alerts are
-- decided in TypeScript (tests/reconcile/controller.test.ts). Two concurrent claimers need two connections:
-- tests/db/claims.test.ts. Rows are made through private._apply_desired_state, not the tier trigger, so this
-- file tests the primitives whatever path brings tier changes in.
begin;
select plan(58);
set local client_min_messages = error;

-- Only this file's rows may be due in this transaction: park everything else (rolled back at the end).
update public.user_fly_apps set next_attempt_at = null where next_attempt_at is not null;

insert into auth.users (id) values
  ('44444444-0000-0000-0000-000000000001'), ('44444444-0000-0000-0000-000000000002'),
  ('44444444-0000-0000-0000-000000000003'), ('44444444-0000-0000-0000-000000000004'),
  ('44444444-0000-0000-0000-000000000005');
alter table public.user_subscriptions disable trigger user;
insert into public.user_subscriptions (user_id, tier) values
  ('44444444-0000-0000-0000-000000000001', 'pro'), ('44444444-0000-0000-0000-000000000002', 'pro'),
  ('44444444-0000-0000-0000-000000000003', 'elite');
do $$ begin
  perform private._apply_desired_state(user_id, tier) from public.user_subscriptions
  where user_id::text like '44444444-%';
end $$;
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
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'worker-b', 60) ->> 'status', 'leased',
  'another owner gets "leased"');
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'worker-b', 60) #>> '{app,lease_owner}',
  'worker-a', '"leased" says who holds it');
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
  format($$select private.record_outcome(%L, 'worker-a', 1)$$, pg_temp.id('44444444-0000-0000-0000-000000000001')),
  '55000', null, 'the previous holder cannot record an outcome');
select is(
  (select count(*)::int from private.record_observations('worker-a',
     jsonb_build_array(jsonb_build_object('id', pg_temp.id('44444444-0000-0000-0000-000000000001'),
                                          'patch', '{"health_status": "healthy"}'::jsonb)))),
  0, 'nor an observation');
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

-- An outcome: patch applied, lease released, events appended in order.
update public.user_fly_apps set retry_count = 2, error_message = 'earlier', lease_owner = null, lease_expires_at = null
where user_id = '44444444-0000-0000-0000-000000000001';
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'w1', 60) ->> 'status', 'claimed', 'claim');
select is(
  private.record_outcome(pg_temp.id('44444444-0000-0000-0000-000000000001'), 'w1', 1,
    '{"status": "active", "fly_app_name": "vyx-user-0123456789ab", "machine_id": "m1", "region": "sin",
      "cpu_kind": "shared", "cpu_count": 2, "memory_mb": 512, "secrets_version": 7, "observed_generation": 1,
      "retry_count": 0, "error_message": null, "next_attempt_at": null, "drift": {},
      "deployed_at": "2026-01-01T00:00:00Z"}',
    '[{"event_type": "provision_started"}, {"event_type": "provision_completed", "status": "ok", "metadata": {"machine_id": "m1"}}]')
    ->> 'status',
  'active', 'the outcome applies the patch');
select results_eq(
  $$select observed_generation, retry_count, error_message, next_attempt_at, lease_owner, machine_id, secrets_version,
           in_sync
    from public.user_fly_apps where user_id = '44444444-0000-0000-0000-000000000001'$$,
  $$values (1::bigint, 0, null::text, null::timestamptz, null::text, 'm1'::text, 7::bigint, true)$$,
  'columns set, JSON null clears, lease released, in sync');
select is(
  (select array_agg(event_type || ':' || status order by seq) from public.user_fly_app_events
   where user_id = '44444444-0000-0000-0000-000000000001' and event_type like 'provision_%'),
  array['provision_started:info', 'provision_completed:ok'], 'the events are appended in order');
select is(public.get_user_fly_app_status('44444444-0000-0000-0000-000000000001') ->> 'in_sync', 'true',
  'status says in sync');

-- Drift makes a row out of sync (generated column), and the status shows it.
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'w1', 60) ->> 'status', 'claimed', 'claim');
select is(private.record_outcome(pg_temp.id('44444444-0000-0000-0000-000000000001'), 'w1', 1,
    '{"drift": {"image": {"desired": "b", "observed": "a"}}}') ->> 'in_sync', 'false', 'drift: not in sync');
select is(public.get_user_fly_app_status('44444444-0000-0000-0000-000000000001') #>> '{drift,image,desired}', 'b',
  'the status shows the drift');

-- Observed generations only move forward.
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'w1', 60) ->> 'status', 'claimed', 'claim');
select is(private.record_outcome(pg_temp.id('44444444-0000-0000-0000-000000000001'), 'w1', 0,
    '{"observed_generation": 0, "drift": {}}') ->> 'observed_generation', '1', 'observed_generation never goes back');

-- The generation fence: a tier change during an attempt keeps the row due, with a clean slate.
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'w2', 60) ->> 'status', 'claimed', 'claim');
do $$ begin perform private._apply_desired_state('44444444-0000-0000-0000-000000000001', 'elite'); end $$;
select results_eq(
  format($$select (x ->> 'status'), (x ->> 'retry_count')::int, (x ->> 'next_attempt_at')::timestamptz <= now(),
                  (x ->> 'observed_generation')::int
           from private.record_outcome(%L, 'w2', 1,
             '{"status": "failed", "retry_count": 5, "next_attempt_at": "2099-01-01T00:00:00Z", "observed_generation": 1}') x$$,
         pg_temp.id('44444444-0000-0000-0000-000000000001')),
  $$values ('pending'::text, 0, true, 1)$$,
  'an outcome of a superseded generation leaves the row due now, retry_count 0, pending');

-- The patch whitelist.
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000001', 'w3', 60) ->> 'status', 'claimed', 'claim');
select throws_ok(
  format($$select private.record_outcome(%L, 'w3', 2, '{"desired_state": "absent"}')$$,
         pg_temp.id('44444444-0000-0000-0000-000000000001')),
  '22023', null, 'the patch cannot touch desired state');
select throws_ok(
  format($$select private.record_outcome(%L, 'w3', 2, '{"lease_owner": null}')$$,
         pg_temp.id('44444444-0000-0000-0000-000000000001')),
  '22023', null, 'nor the lease');
select throws_ok(
  format($$select private.record_outcome(%L, 'w3', 2, '{"status": "running"}')$$,
         pg_temp.id('44444444-0000-0000-0000-000000000001')),
  '23514', null, 'the patch cannot set an unknown status');
select ok(private.release_user_fly_app(pg_temp.id('44444444-0000-0000-0000-000000000001'), 'w3'), 'release');

-- Observations without a lease skip leased rows; with one, only the owner's rows, released after.
select is(private.claim_user_fly_app('44444444-0000-0000-0000-000000000002', 'busy', 60) ->> 'status', 'claimed', 'claim');
select is(
  (select array_agg(x.id) from private.record_observations(null, jsonb_build_array(
     jsonb_build_object('id', pg_temp.id('44444444-0000-0000-0000-000000000001'),
                        'patch', '{"health_status": "unhealthy"}'::jsonb,
                        'events', '[{"event_type": "health_changed", "status": "warning"}]'::jsonb),
     jsonb_build_object('id', pg_temp.id('44444444-0000-0000-0000-000000000002'),
                        'patch', '{"health_status": "unhealthy"}'::jsonb))) x),
  array[pg_temp.id('44444444-0000-0000-0000-000000000001')], 'an unowned observation skips the leased row');
select is(
  (select count(*)::int from public.user_fly_app_events
   where user_id = '44444444-0000-0000-0000-000000000001' and event_type = 'health_changed'),
  1, 'its events are appended');
select is(
  (select array_agg(x.kept ->> 'lease_owner') from private.record_observations('busy', jsonb_build_array(
     jsonb_build_object('id', pg_temp.id('44444444-0000-0000-0000-000000000002'),
                        'patch', '{"health_status": "healthy"}'::jsonb, 'release', false)))  x),
  array['busy'], 'the owner writes its row and may keep the lease (the row comes back)');
select is(
  (select array_agg(x.kept) from private.record_observations('busy', jsonb_build_array(
     jsonb_build_object('id', pg_temp.id('44444444-0000-0000-0000-000000000002'),
                        'patch', '{"health_status": "healthy"}'::jsonb))) x),
  array[null::jsonb], 'or release it (no row comes back)');
select is((pg_temp.app('44444444-0000-0000-0000-000000000002')).lease_owner, null, 'released');

-- Fleet states: one statement per page, previous state returned.
update public.user_fly_apps set fly_app_name = 'vyx-user-fleet00000002', machine_id = 'm2',
  last_machine_state = 'started' where user_id = '44444444-0000-0000-0000-000000000002';
select results_eq(
  $$select user_id::text, previous_state, state, live_machines, observed_machine_id
    from private.record_fleet_states('[{"app_name": "vyx-user-fleet00000002", "state": "stopped", "machine_id": "m2",
      "live_machines": 1, "observed_at": "2026-11-30T00:00:00Z"},
      {"app_name": "vyx-user-nobody", "state": "started", "machine_id": "m9", "live_machines": 1,
       "observed_at": "2026-11-30T00:00:00Z"}]')$$,
  $$values ('44444444-0000-0000-0000-000000000002', 'started'::text, 'stopped'::text, 1, 'm2'::text)$$,
  'fleet states update the known app and return its previous state');
select is((pg_temp.app('44444444-0000-0000-0000-000000000002')).last_machine_state, 'stopped', 'state written');
update public.user_fly_apps set status = 'active' where user_id = '44444444-0000-0000-0000-000000000002';
select ok(pg_temp.id('44444444-0000-0000-0000-000000000002') in
  (select private.unseen_since('2026-11-30T00:00:01Z')), 'a row not seen since a listing started is unseen');
select ok(pg_temp.id('44444444-0000-0000-0000-000000000002') not in
  (select private.unseen_since('2026-11-30T00:00:00Z')), 'and a row seen is not');

-- The whitelist is one list (tests/reconcile/patch_columns.test.ts compares it with the zod schema).
select ok(array_length(private.user_fly_app_patch_columns(), 1) > 20, 'the whitelist lists the columns');

-- Status of a paid user who has no row yet: wants an app, not in sync.
insert into public.user_subscriptions (user_id, tier) values ('44444444-0000-0000-0000-000000000005', 'pro');
select results_eq(
  $$select x ->> 'desired_state', x ->> 'in_sync', x ->> 'status'
    from public.get_user_fly_app_status('44444444-0000-0000-0000-000000000005') x$$,
  $$values ('present'::text, 'false'::text, 'none'::text)$$, 'a paid user without a row: present, not in sync');

-- Events, desired spec, drift repair.
select ok(private.append_user_fly_app_event('44444444-0000-0000-0000-000000000001', 'repaired', 'ok',
  '{"what": "machine started"}') is not null, 'append_user_fly_app_event returns the id');
select throws_ok($$select private.append_user_fly_app_event('44444444-0000-0000-0000-000000000001', 'Bad Type')$$,
  '22023', null, 'event types are snake_case');
select is(
  private.get_desired_spec('44444444-0000-0000-0000-000000000002') - 'desired_generation' - 'user_id',
  '{"tier": "pro", "desired_state": "present", "deprovision_grace_seconds": null, "rollout": null,
    "override": null, "plan": {"tier": "pro", "plan_version": 1, "region": "sin", "cpu_kind": "shared",
    "cpus": 2, "memory_mb": 512, "image": null, "public_services": true, "monthly_cost_estimate_usd": 3.88,
    "volume_size_gb": null, "volume_mount_path": null, "deprovision_grace_seconds": null,
    "idle_action": "off"}}'::jsonb,
  'desired spec from the recorded tier and its plan');
-- Paid user without a row (e.g. the trigger was disabled during a bulk import).
insert into public.user_subscriptions (user_id, tier) values ('44444444-0000-0000-0000-000000000004', 'elite');
select ok('44444444-0000-0000-0000-000000000004'::uuid in (select private.repair_desired_state_drift(1000)),
  'drift repair reports the paid user without a row');
select results_eq(
  $$select desired_state, desired_generation, next_attempt_at <= now() from public.user_fly_apps
    where user_id = '44444444-0000-0000-0000-000000000004'$$,
  $$values ('present'::text, 1::bigint, true)$$, 'and creates the row, due now');

select * from finish();
rollback;
