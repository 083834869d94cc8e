-- Every way a lease on a user_fly_apps row ends is stamped (lease_released_at, lease_released_by): a release,
-- an outcome recorded with release, an observation that releases, a takeover of an expired lease. Claims and
-- renewals by the holder leave the stamp alone. The controller reads it to let Fly's per-app limits refill
-- when another instance takes a user over (tests/reconcile/takeover.test.ts).
begin;
select plan(12);
set local client_min_messages = error;

insert into auth.users (id) values ('55555555-0000-0000-0000-000000000001');
alter table public.user_subscriptions disable trigger user;
insert into public.user_subscriptions (user_id, tier) values ('55555555-0000-0000-0000-000000000001', 'pro');
do $$ begin perform private._apply_desired_state('55555555-0000-0000-0000-000000000001', 'pro'); end $$;
create function pg_temp.app() returns public.user_fly_apps
language sql as $$ select * from public.user_fly_apps where user_id = '55555555-0000-0000-0000-000000000001' $$;

select is((pg_temp.app()).lease_released_at, null, 'a new row was never let go');

select is(private.claim_user_fly_app('55555555-0000-0000-0000-000000000001', 'worker-a', 60) ->> 'status', 'claimed',
  'worker-a claims');
select is((pg_temp.app()).lease_released_at, null, 'a first claim stamps nothing');
select is(private.claim_user_fly_app('55555555-0000-0000-0000-000000000001', 'worker-a', 60) ->> 'status', 'claimed',
  'worker-a renews by claiming again');
select ok(private.renew_user_fly_app_lease((pg_temp.app()).id, 'worker-a', 60), 'and by the heartbeat');
select is((pg_temp.app()).lease_released_at, null, 'renewals by the holder stamp nothing');

select private.release_user_fly_app((pg_temp.app()).id, 'worker-a');
select is(((pg_temp.app()).lease_released_at, (pg_temp.app()).lease_released_by), (now(), 'worker-a'::text),
  'a release stamps the time and the owner that let go');

-- An outcome recorded with release.
update public.user_fly_apps set lease_released_at = null, lease_released_by = null
where user_id = '55555555-0000-0000-0000-000000000001';
select private.claim_user_fly_app('55555555-0000-0000-0000-000000000001', 'worker-b', 60);
select private.record_outcome((pg_temp.app()).id, 'worker-b', 1);
select is((pg_temp.app()).lease_released_by, 'worker-b', 'record_outcome releasing stamps its owner');
select is((pg_temp.app()).lease_owner, null, 'and the lease is free');

-- An outcome recorded without release keeps the lease and the earlier stamp.
select private.claim_user_fly_app('55555555-0000-0000-0000-000000000001', 'worker-c', 60);
select private.record_outcome((pg_temp.app()).id, 'worker-c', 1, '{}'::jsonb, '[]'::jsonb, false);
select is((pg_temp.app()).lease_released_by, 'worker-b', 'an outcome that keeps the lease stamps nothing');

-- A takeover of an expired lease: the holder that lost it is the one that let go.
update public.user_fly_apps set lease_expires_at = now() - interval '1 second'
where user_id = '55555555-0000-0000-0000-000000000001';
select is(private.claim_user_fly_app('55555555-0000-0000-0000-000000000001', 'worker-d', 60) #>> '{app,lease_released_by}',
  'worker-c', 'a takeover of an expired lease stamps the holder that lost it, in the claimed row');
select is((pg_temp.app()).lease_owner, 'worker-d', 'and the new holder has the lease');

select * from finish();
rollback;
