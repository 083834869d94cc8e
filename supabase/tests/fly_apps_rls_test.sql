-- RLS and privileges: a user reads only their own row and events; anon reads nothing; authenticated writes
-- nothing; the private API is executable by neither.
begin;
select plan(27);
set local client_min_messages = error;

insert into auth.users (id) values ('33333333-0000-0000-0000-00000000000a'), ('33333333-0000-0000-0000-00000000000b');
insert into public.user_subscriptions (user_id, tier) values
  ('33333333-0000-0000-0000-00000000000a', 'pro'), ('33333333-0000-0000-0000-00000000000b', 'elite');
select from private.drain_tier_outbox(1000, false); -- the tier outbox's drainer records the desired state
select is((select count(*)::int from public.user_fly_apps
           where user_id in ('33333333-0000-0000-0000-00000000000a', '33333333-0000-0000-0000-00000000000b')),
  2, 'precondition: both users have a row');

-- User A.
set local role authenticated;
set local request.jwt.claims = '{"sub": "33333333-0000-0000-0000-00000000000a", "role": "authenticated"}';
select results_eq($$select user_id from public.user_fly_apps$$,
  $$values ('33333333-0000-0000-0000-00000000000a'::uuid)$$, 'A sees only their own app row');
select ok((select count(*) from public.user_fly_app_events) > 0, 'A sees events');
select is((select count(*)::int from public.user_fly_app_events
           where user_id <> '33333333-0000-0000-0000-00000000000a'), 0, 'A sees no event of anyone else');
select results_eq($$select user_id, tier from public.user_subscriptions$$,
  $$values ('33333333-0000-0000-0000-00000000000a'::uuid, 'pro'::text)$$, 'A sees only their own subscription');
select is(public.get_user_fly_app_status('33333333-0000-0000-0000-00000000000a') ->> 'desired_state', 'present',
  'A reads their own status');
select is(public.get_user_fly_app_status('33333333-0000-0000-0000-00000000000a') ->> 'tier', 'pro',
  'with their tier');
select is(public.get_user_fly_app_status('33333333-0000-0000-0000-00000000000b'), null, 'A cannot read B''s status');
select ok((select count(*) from public.fly_plans) = 3, 'signed-in users read the plans');

select throws_ok($$update public.user_fly_apps set status = 'active'$$, '42501', null, 'A cannot update app rows');
select throws_ok($$insert into public.user_fly_apps (user_id) values ('33333333-0000-0000-0000-00000000000a')$$,
  '42501', null, 'A cannot insert app rows');
select throws_ok($$delete from public.user_fly_apps$$, '42501', null, 'A cannot delete app rows');
select throws_ok(
  $$insert into public.user_fly_app_events (user_id, event_type) values ('33333333-0000-0000-0000-00000000000a', 'x')$$,
  '42501', null, 'A cannot write events');
select throws_ok($$update public.user_subscriptions set tier = 'elite'$$, '42501', null,
  'A cannot change their own tier');
select throws_ok($$update public.fly_plans set cpus = 8$$, '42501', null, 'A cannot change plans');
select throws_ok(
  $$select private.claim_user_fly_app('33333333-0000-0000-0000-00000000000a', 'me', 60)$$,
  '42501', null, 'A cannot call the private API');
select throws_ok($$select private.drain_tier_outbox()$$,
  '42501', null, 'A cannot drain the tier outbox (nor kick a function)');
reset role;

-- anon.
set local role anon;
set local request.jwt.claims = '{"role": "anon"}';
select throws_ok($$select * from public.user_fly_apps$$, '42501', null, 'anon cannot read app rows');
select throws_ok($$select * from public.user_fly_app_events$$, '42501', null, 'anon cannot read events');
select throws_ok($$select * from public.user_subscriptions$$, '42501', null, 'anon cannot read subscriptions');
select throws_ok($$select * from public.fly_plans$$, '42501', null, 'anon cannot read plans');
select throws_ok($$select public.get_user_fly_app_status('33333333-0000-0000-0000-00000000000a')$$,
  '42501', null, 'anon cannot call get_user_fly_app_status');
reset role;

-- service_role: the service side reads everything.
set local role service_role;
select is((select count(*)::int from public.user_fly_apps
           where user_id in ('33333333-0000-0000-0000-00000000000a', '33333333-0000-0000-0000-00000000000b')),
  2, 'service_role reads every row');
select is(public.get_user_fly_app_status('33333333-0000-0000-0000-00000000000b') ->> 'tier', 'elite',
  'service_role reads any status');
reset role;

-- Catalog view of the same: no private function is executable by an API role, RLS is on everywhere.
select is(
  (select array_agg(p.oid::regprocedure::text || ' by ' || r.rolname) from pg_proc p
   cross join (values ('public'), ('anon'), ('authenticated'), ('service_role')) r(rolname)
   where p.pronamespace = 'private'::regnamespace
     and (case when r.rolname = 'public' then exists (
            select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x where x.grantee = 0)
          else has_function_privilege(r.rolname, p.oid, 'execute') end)),
  null, 'no private function is executable by PUBLIC, anon, authenticated or service_role');
select is(
  (select array_agg(c.relname::text) from pg_class c
   where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
     and c.relname in ('user_fly_apps', 'user_fly_app_events', 'fly_plans', 'user_subscriptions')
     and not c.relrowsecurity),
  null, 'RLS is enabled on every table');
select ok(not has_schema_privilege('authenticated', 'private', 'usage'), 'authenticated has no usage on private');

select * from finish();
rollback;
