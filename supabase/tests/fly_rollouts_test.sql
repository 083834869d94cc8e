-- Rollouts: creation (validation, batches, previous spec), one active rollout per scope, state transitions
-- (idempotent, recorded with the actor), driving (lease, claim, record, pin), RLS.
begin;
select plan(61);
set local client_min_messages = error;

create function pg_temp.uid(n integer) returns uuid language sql as $$
  select ('55555555-0000-0000-0000-' || lpad(n::text, 12, '0'))::uuid
$$;
create function pg_temp.rollout(p_id uuid) returns public.fly_rollouts language sql as $$
  select * from public.fly_rollouts where id = p_id
$$;

insert into auth.users (id) select pg_temp.uid(n) from generate_series(1, 9) n;
insert into public.user_subscriptions (user_id, tier)
select pg_temp.uid(n), case when n <= 5 then 'pro' when n <= 8 then 'elite' else 'free' end
from generate_series(1, 9) n;
select from private.drain_tier_outbox(1000, false); -- the tier outbox's drainer records the desired state
update public.user_fly_apps set status = 'active', docker_image = 'registry.fly.io/app:v1',
  image_digest = 'sha256:' || repeat('1', 64), region = 'sin', cpu_kind = 'shared', cpu_count = 2, memory_mb = 512
where user_id = pg_temp.uid(1);

select has_table('public', 'fly_rollouts', 'fly_rollouts exists');
select has_table('public', 'fly_rollout_targets', 'fly_rollout_targets exists');
select ok((select bool_and(relrowsecurity) from pg_class
           where oid in ('public.fly_rollouts'::regclass, 'public.fly_rollout_targets'::regclass,
                         'public.fly_rollout_events'::regclass)), 'RLS is on for the three tables');

-- Bad input: 22023 naming the field, nothing written.
select throws_like($$select private.create_fly_rollout('{"target": {"image": "x:2"}, "tier": "gold"}', 'ops')$$,
  'tier: unknown tier%', 'an unknown tier is refused');
select throws_like($$select private.create_fly_rollout('{"target": {"image": "x:2"}, "tier": "free"}', 'ops')$$,
  'tier: unknown tier or tier without a dedicated app%', 'a tier without apps is refused');
select throws_like($$select private.create_fly_rollout('{"target": {"image": "x:2"}, "batch_size": -1}', 'ops')$$,
  'batch_size: must be an integer of at least 1', 'a negative batch is refused');
select throws_like($$select private.create_fly_rollout('{"target": {"image": "x:2"}, "canary_count": 1.5}', 'ops')$$,
  'canary_count:%', 'a fractional canary count is refused');
select throws_like($$select private.create_fly_rollout('{"target": {}}', 'ops')$$,
  'target: must name%', 'an empty target is refused');
select throws_like($$select private.create_fly_rollout('{"target": {"image": "x:2", "colour": "red"}}', 'ops')$$,
  'target: unknown field(s) colour', 'an unknown target field is refused');
select throws_like($$select private.create_fly_rollout('{"target": {"cpus": "two"}}', 'ops')$$,
  'target.cpus:%', 'a non-integer cpus is refused');
select throws_like(
  $$select private.create_fly_rollout('{"target": {"image": "x:2"}, "batch_size": 2, "max_unavailable": 0.5}', 'ops')$$,
  'max_unavailable: give batch_size or max_unavailable, not both', 'batch size and fraction are exclusive');
select throws_ok($$select private.create_fly_rollout('{"target": {"image": "x:2"}}', '')$$, '22023', null,
  'an actor is required');
select is((select count(*)::int from public.fly_rollouts), 0, 'bad input wrote no rollout');

-- Create: all tiers, 1 canary then batches of 3; started at once.
create temp table r1 as
  select (private.create_fly_rollout(
    '{"target": {"image": "registry.fly.io/app:v2"}, "canary_count": 1, "batch_size": 3, "max_failures": 1,
      "reason": "ship v2"}', 'alice') ->> 'id')::uuid as id;
select is((pg_temp.rollout((select id from r1))).state, 'running', 'created and started');
select is((pg_temp.rollout((select id from r1))).total, 8, 'every paid user is a target, free ones are not');
select results_eq(
  $$select batch, count(*)::int from public.fly_rollout_targets where rollout_id = (select id from r1)
    group by batch order by batch$$,
  $$values (0, 1), (1, 3), (2, 3), (3, 1)$$, 'one canary, then batches of 3');
select is((select previous from public.fly_rollout_targets where user_id = pg_temp.uid(1)),
  jsonb_build_object('image', 'registry.fly.io/app:v1', 'digest', 'sha256:' || repeat('1', 64), 'region', 'sin',
                     'cpu_kind', 'shared', 'cpus', 2, 'memory_mb', 512),
  'the previous spec of a target is snapshotted from its row');
select is((pg_temp.rollout((select id from r1))).previous_spec -> 'pro',
  '{"region": "sin", "cpu_kind": "shared", "cpus": 2, "memory_mb": 512}'::jsonb, 'the plans are snapshotted');

-- One active rollout per scope.
select throws_ok($$select private.create_fly_rollout('{"target": {"image": "x:3"}}', 'bob')$$, '23505', null,
  'a second all-tier rollout is refused');
select throws_ok($$select private.create_fly_rollout('{"target": {"image": "x:3"}, "tier": "pro"}', 'bob')$$,
  '23505', null, 'a tier rollout overlapping an all-tier one is refused');
select throws_ok($$insert into public.fly_rollouts (tier, target, batch_size, created_by, state)
                   values (null, '{"image": "x"}', 1, 'x', 'paused')$$,
  '23505', null, 'the unique index backs the rule up');
select is((select count(*)::int from public.fly_rollouts), 1, 'still one rollout');

-- Driving: lease, claim (canaries first), record, pin.
select is((select count(*)::int from private.lease_fly_rollouts('driver-1', 60)), 1, 'driver-1 leases it');
select is((select count(*)::int from private.lease_fly_rollouts('driver-2', 60)), 0, 'driver-2 does not');
select throws_like($$select * from private.claim_fly_rollout_targets((select id from r1), 'driver-2', 5)$$,
  'lease_not_held%', 'only the lease holder claims');
select results_eq($$select batch, state, attempts from private.claim_fly_rollout_targets((select id from r1), 'driver-1', 5)$$,
  $$values (0, 'updating'::text, 1)$$, 'only the canary is claimed first');
select results_eq($$select batch, attempts from private.claim_fly_rollout_targets((select id from r1), 'driver-1', 5)$$,
  $$values (0, 2)$$, 'a canary in flight is claimed again (a restart resumes it), attempts counted');
select is(private.fly_rollout_spec_for_user((select user_id from public.fly_rollout_targets where batch = 0)) -> 'spec',
  '{"image": "registry.fly.io/app:v2"}'::jsonb, 'a target being updated is due the target spec');
select is(private.pin_fly_rollout_digest((select id from r1), 'sha256:' || repeat('a', 64),
            'registry.fly.io/app@sha256:' || repeat('a', 64)), 'sha256:' || repeat('a', 64),
  'the first digest is pinned');
select is(private.pin_fly_rollout_digest((select id from r1), 'sha256:' || repeat('b', 64),
            'registry.fly.io/app@sha256:' || repeat('b', 64)), 'sha256:' || repeat('a', 64),
  'the first writer wins');
select is(
  (private.record_fly_rollout_target((select id from r1), 'driver-1',
    (select user_id from public.fly_rollout_targets where batch = 0), 'healthy', 'sha256:' || repeat('a', 64))
   ->> 'healthy')::int, 1, 'a healthy canary is counted');
select results_eq($$select canaries_open, canaries_failed, updated from public.fly_rollouts where id = (select id from r1)$$,
  $$values (0, 0, 1)$$, 'the canary gate counters follow');
select is((select count(*)::int from public.user_fly_app_events
           where event_type = 'rollout_target_healthy'
             and user_id = (select user_id from public.fly_rollout_targets where batch = 0)), 1,
  'with an event for the user');
select is(private.fly_rollout_spec_for_user((select user_id from public.fly_rollout_targets where batch = 0)) -> 'spec',
  jsonb_build_object('image', 'registry.fly.io/app:v2', 'digest', 'sha256:' || repeat('a', 64)),
  'and from then on the pinned digest');
select is((select count(*)::int from private.claim_fly_rollout_targets((select id from r1), 'driver-1', 2)), 2,
  'then the first batch, up to the limit');

-- Pause, resume: idempotent, recorded with the actor.
select is(private.transition_fly_rollout((select id from r1), 'pause', 'carol') ->> 'changed', 'true', 'pause');
select is(private.transition_fly_rollout((select id from r1), 'pause', 'carol') ->> 'changed', 'false',
  'pause again changes nothing');
select is((select count(*)::int from private.claim_fly_rollout_targets((select id from r1), 'driver-1', 5)), 0,
  'nothing is claimed while paused');
select is(private.transition_fly_rollout((select id from r1), 'resume', 'carol') -> 'rollout' ->> 'state', 'running',
  'resume');
select throws_like($$select private.transition_fly_rollout((select id from r1), 'complete', 'system')$$,
  'cannot complete rollout%still open', 'complete is refused while targets are open');

-- A failure, then halt, then rollback of the updated targets.
select is((private.record_fly_rollout_target((select id from r1), 'driver-1',
  (select user_id from public.fly_rollout_targets where state = 'updating' order by user_id limit 1),
  'failed', null, 'health gate timed out') ->> 'failed')::int, 1, 'a failure is counted');
select is(private.transition_fly_rollout((select id from r1), 'halt', 'system', null, 'too many failures')
  -> 'rollout' ->> 'error', 'too many failures', 'halt records the error');
select throws_ok($$select private.transition_fly_rollout((select id from r1), 'pause', 'carol')$$, '55000', null,
  'a halted rollout cannot be paused');
select is(private.transition_fly_rollout((select id from r1), 'rollback', 'dave', 'v2 is bad') -> 'rollout' ->> 'direction',
  'rollback', 'rollback runs the rollout backwards');
select is((select lease_owner from public.fly_rollouts where id = (select id from r1)), null,
  'a rollback frees the driver lease (the driver it kicks takes it at once)');
select from private.lease_fly_rollouts('driver-1', 60);
select results_eq(
  $$select batch, state from private.claim_fly_rollout_targets((select id from r1), 'driver-1', 10)$$,
  $$values (0, 'rolling_back'::text)$$, 'the canary is rolled back first');
select ok((select previous ? 'digest' from public.fly_rollout_targets
           where batch = 0 and rollout_id = (select id from r1)), 'its previous spec recorded the digest it ran');
select is(private.fly_rollout_spec_for_user((select user_id from public.fly_rollout_targets where batch = 0))
            -> 'spec',
  (select previous from public.fly_rollout_targets where batch = 0 and rollout_id = (select id from r1)),
  'the rollback converges it to its previous spec');
select is(private.fly_rollout_spec_for_user((select user_id from public.fly_rollout_targets where batch = 0))
            -> 'restores_previous', 'true'::jsonb,
  'said to be the previous one (its reference is applied as recorded, held to its digest)');
select is(
  (private.record_fly_rollout_target((select id from r1), 'driver-1',
    (select user_id from public.fly_rollout_targets where batch = 0), 'healthy') ->> 'rolled_back')::int, 1,
  'the canary is back');
select results_eq(
  $$select event_type, actor from public.fly_rollout_events where rollout_id = (select id from r1) order by seq$$,
  $$values ('created'::text, 'alice'::text), ('started', 'alice'), ('digest_pinned', 'system'), ('paused', 'carol'),
           ('resumed', 'carol'), ('halted', 'system'), ('rollback_started', 'dave')$$,
  'every change is an event with its actor (repeated pause: none)');

select is(private.fly_rollout_status((select id from r1)) -> 'batches' -> 0,
  '{"batch": 0, "stage": "canary", "rolled_back": 1}'::jsonb, 'status: target states per batch');
select is(jsonb_array_length(private.fly_rollout_status((select id from r1), 3) -> 'events'), 3,
  'status: the latest events');
select is(private.fly_rollout_status() -> 'rollout' ->> 'id', (select id::text from r1), 'status: the latest rollout');

-- Abort frees the scope.
select is(private.transition_fly_rollout((select id from r1), 'abort', 'erin') -> 'rollout' ->> 'state', 'aborted',
  'abort');
select is(private.transition_fly_rollout((select id from r1), 'abort', 'erin') ->> 'changed', 'false',
  'abort again changes nothing');
select throws_ok($$select private.transition_fly_rollout((select id from r1), 'resume', 'erin')$$, '55000', null,
  'an aborted rollout cannot be resumed');
select is(private.create_fly_rollout('{"target": {"memory_mb": 1024}, "tier": "pro", "max_unavailable": 0.4}', 'erin')
  ->> 'batch_size', '2', 'then a new rollout may start; max_unavailable 0.4 of 5 → batches of 2');

-- Privileges.
select throws_ok($$update public.fly_rollout_events set actor = 'x'$$, '42501', null, 'events are append-only');
set local role authenticated;
set local request.jwt.claims = '{"sub": "55555555-0000-0000-0000-000000000001", "role": "authenticated"}';
select throws_ok($$select * from public.fly_rollouts$$, '42501', null, 'users cannot read rollouts');
select throws_ok($$select private.create_fly_rollout('{"target": {"image": "x"}}', 'me')$$, '42501', null,
  'users cannot create rollouts');
reset role;

select * from finish();
rollback;
