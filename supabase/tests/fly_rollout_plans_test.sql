-- Rollouts own a machine's image and size: the desired spec carries what an active rollout says a user runs
-- now (only once the user's target is in flight or done); a completed rollout records its target in the
-- scope's plans (image pinned to the digest), a rolled-back one restores the plans it snapshotted.
begin;
select plan(9);
set local client_min_messages = error;

create function pg_temp.uid(n integer) returns uuid language sql as $$
  select ('66666666-0000-0000-0000-' || lpad(n::text, 12, '0'))::uuid
$$;

insert into auth.users (id) select pg_temp.uid(n) from generate_series(1, 2) n;
insert into public.user_subscriptions (user_id, tier) select pg_temp.uid(n), 'pro' from generate_series(1, 2) n;
select from private.drain_tier_outbox(1000, false);
update public.user_fly_apps set status = 'active', docker_image = 'registry.fly.io/app:v1',
  image_digest = 'sha256:' || repeat('1', 64);
update public.fly_plans set image = null where tier = 'pro';
create temp table elite_before as select image, memory_mb from public.fly_plans where tier = 'elite';

select is(private.get_desired_spec(pg_temp.uid(1)) -> 'rollout', 'null'::jsonb, 'no rollout: null');

create temp table r as
  select (private.create_fly_rollout(
    '{"target": {"image": "registry.fly.io/app:v2", "memory_mb": 1024}, "tier": "pro", "canary_count": 1,
      "batch_size": 1}', 'alice') ->> 'id')::uuid as id;
select is(private.get_desired_spec(pg_temp.uid(1)) #>> '{rollout,target_state}', 'pending',
  'a pending target: the spec says so (the controller keeps what the machine runs)');

select from private.lease_fly_rollouts('driver', 60);
create temp table claimed as select * from private.claim_fly_rollout_targets((select id from r), 'driver', 1);
select is(private.get_desired_spec((select user_id from claimed)) #>> '{rollout,spec,image}', 'registry.fly.io/app:v2',
  'a target in flight: the rollout''s spec');
select from private.pin_fly_rollout_digest((select id from r), 'sha256:' || repeat('2', 64),
  'registry.fly.io/app@sha256:' || repeat('2', 64));
select from private.record_fly_rollout_target((select id from r), 'driver', (select user_id from claimed), 'healthy',
  'sha256:' || repeat('2', 64), null);
select is(private.get_desired_spec((select user_id from claimed)) #>> '{rollout,spec,digest}',
  'sha256:' || repeat('2', 64), 'once pinned, the spec carries the digest');
select from (select private.record_fly_rollout_target((select id from r), 'driver', t.user_id, 'healthy', null, null)
              from private.claim_fly_rollout_targets((select id from r), 'driver', 5) t) recorded;

select is((select image from public.fly_plans where tier = 'pro'), null, 'the plan is untouched while running');
select is(private.transition_fly_rollout((select id from r), 'complete', 'rollout-driver') #>> '{rollout,state}',
  'completed', 'completed');
select results_eq($$select image, memory_mb from public.fly_plans where tier = 'pro'$$,
  $$values ('registry.fly.io/app@sha256:' || repeat('2', 64), 1024)$$,
  'completion records the pinned image and the size in the scope''s plan');
select results_eq($$select image, memory_mb from public.fly_plans where tier = 'elite'$$,
  $$select image, memory_mb from elite_before$$, 'other tiers are untouched');

-- Rolled back: the plan as it was when the rollout was created.
select from private.transition_fly_rollout((select id from r), 'rollback', 'alice');
select from private.lease_fly_rollouts('driver', 60);  -- a rollback frees the driver lease
-- Batch by batch (the canary's batch first).
select from (select private.record_fly_rollout_target((select id from r), 'driver', t.user_id, 'healthy', null, null)
              from private.claim_fly_rollout_targets((select id from r), 'driver', 5) t) recorded;
select from (select private.record_fly_rollout_target((select id from r), 'driver', t.user_id, 'healthy', null, null)
              from private.claim_fly_rollout_targets((select id from r), 'driver', 5) t) recorded;
select from private.transition_fly_rollout((select id from r), 'complete', 'rollout-driver');
select results_eq($$select image, memory_mb from public.fly_plans where tier = 'pro'$$,
  $$values (null::text, 512)$$, 'a rolled-back rollout restores the plan');

select * from finish();
rollback;
