-- Shape of the fly app schema: tables, columns, constraints, indexes, plans, functions.
begin;
select plan(40);

select has_table('public', 'user_subscriptions', 'user_subscriptions exists');
select has_table('public', 'fly_plans', 'fly_plans exists');
select has_table('public', 'user_fly_apps', 'user_fly_apps exists');
select has_table('public', 'user_fly_app_events', 'user_fly_app_events exists');

select columns_are('public', 'user_fly_apps', array[
  'id', 'user_id', 'fly_app_name', 'fly_org_slug', 'status', 'region', 'docker_image', 'cpu_count', 'memory_mb',
  'machine_id', 'health_status', 'last_health_check_at', 'error_message', 'retry_count', 'deployed_at',
  'deleted_at', 'monthly_cost_estimate_usd', 'created_at', 'updated_at', 'desired_state', 'desired_generation',
  'observed_generation', 'next_attempt_at', 'lease_owner', 'lease_expires_at', 'secrets_version', 'image_digest',
  'cpu_kind', 'secrets_digest', 'drift', 'in_sync', 'last_machine_state', 'last_observed_at', 'held_at', 'held_by',
  'hold_reason', 'delete_after', 'volume_id', 'credential_expires_at', 'credential_key_id', 'credential_jti',
  'desired_tier', 'lease_released_at', 'lease_released_by', 'applied_tier', 'applied_plan_version',
  'applied_override_version'
], 'user_fly_apps has the seed columns plus the reconcile columns');
select columns_are('public', 'user_fly_app_events', array[
  'id', 'fly_app_id', 'user_id', 'event_type', 'status', 'metadata', 'error_details', 'created_at', 'seq'
], 'user_fly_app_events has the seed columns plus seq');

select col_type_is('public', 'user_fly_apps', 'desired_generation', 'bigint', 'desired_generation is bigint');
select col_type_is('public', 'user_fly_apps', 'lease_expires_at', 'timestamp with time zone',
  'lease_expires_at is timestamptz');
select col_not_null('public', 'user_fly_apps', 'user_id', 'user_id is not null');
select col_is_null('public', 'user_fly_apps', 'fly_app_name', 'fly_app_name may be null until the engine names it');
select col_default_is('public', 'user_fly_apps', 'status', 'pending', 'status defaults to pending');
select col_type_is('public', 'user_fly_app_events', 'metadata', 'jsonb', 'event metadata is jsonb');
select col_is_pk('public', 'user_subscriptions', 'user_id', 'user_subscriptions keyed by user_id');
select fk_ok('public', 'user_subscriptions', 'user_id', 'auth', 'users', 'id',
  'user_subscriptions.user_id references auth.users');
select is(
  (select count(*)::int from pg_constraint
   where contype = 'f' and confrelid = 'auth.users'::regclass
     and conrelid in ('public.user_fly_apps'::regclass, 'public.user_fly_app_events'::regclass)),
  0, 'app rows and events do not cascade away with the auth user');

select index_is_unique('public', 'user_fly_apps', 'user_fly_apps_user_id_key', 'one row per user');
select index_is_unique('public', 'user_fly_apps', 'user_fly_apps_fly_app_name_key', 'app names are unique');
select has_index('public', 'user_fly_apps', 'user_fly_apps_due_idx', 'index for due work');
select has_index('public', 'user_fly_apps', 'user_fly_apps_health_idx', 'index for the stalest health check');
select is(
  (select pg_get_expr(indpred, indrelid) from pg_index where indexrelid = 'public.user_fly_apps_due_idx'::regclass),
  '(next_attempt_at IS NOT NULL)', 'the due index is partial on next_attempt_at');

-- Check constraints reject what they should.
insert into auth.users (id) values ('11111111-0000-0000-0000-000000000001');
select throws_ok(
  $$insert into public.user_fly_apps (user_id, status) values ('11111111-0000-0000-0000-000000000001', 'running')$$,
  '23514', null, 'unknown status is rejected');
select throws_ok(
  $$insert into public.user_fly_apps (user_id, desired_state) values ('11111111-0000-0000-0000-000000000001', 'maybe')$$,
  '23514', null, 'unknown desired_state is rejected');
select throws_ok(
  $$insert into public.user_subscriptions (user_id, tier) values ('11111111-0000-0000-0000-000000000001', 'gold')$$,
  '23514', null, 'unknown tier is rejected');
select throws_ok(
  $$insert into public.user_subscriptions (user_id, tier) values ('11111111-0000-0000-0000-0000000000ff', 'pro')$$,
  '23503', null, 'a subscription needs an auth user');

-- Plans seeded as the product wants them.
select results_eq(
  $$select tier, dedicated_app, region, cpu_kind, cpus, memory_mb from public.fly_plans order by tier$$,
  $$values ('elite'::text, true, 'sin'::text, 'shared'::text, 2, 512),
           ('free', false, null, null, null, null),
           ('pro', true, 'sin', 'shared', 2, 512)$$,
  'fly_plans: pro and elite get a dedicated shared 2 CPU / 512 MB app in sin, free does not');
select throws_ok(
  $$insert into public.fly_plans (tier, dedicated_app) values ('free', false)$$,
  '23505', null, 'one plan per tier');

-- Events are append-only.
insert into public.user_fly_app_events (user_id, event_type) values ('11111111-0000-0000-0000-000000000001', 'test_event');
select throws_ok($$update public.user_fly_app_events set status = 'x'$$, '42501', null, 'events cannot be updated');
select throws_ok($$delete from public.user_fly_app_events$$, '42501', null, 'events cannot be deleted');

-- The private API exists, is SECURITY DEFINER with a fixed search_path, and is documented.
select has_function('private', 'claim_user_fly_app', array['uuid', 'text', 'integer'], 'claim one row');
select has_function('private', 'claim_due_user_fly_apps', array['text', 'integer', 'integer'], 'claim due rows');
select has_function('private', 'release_user_fly_app', array['uuid', 'text'], 'release');
select has_function('private', 'record_outcome', array['uuid', 'text', 'bigint', 'jsonb', 'jsonb', 'boolean'],
  'record an outcome');
select has_function('private', 'record_observations', array['text', 'jsonb'], 'record observations');
select has_function('private', 'append_user_fly_app_event', array['uuid', 'text', 'text', 'jsonb', 'text', 'uuid'],
  'append event');
select has_function('public', 'get_user_fly_app_status', array['uuid'], 'status for users and admin');
select is(
  (select array_agg(p.proname::text order by p.proname) from pg_proc p
   where p.pronamespace = 'private'::regnamespace and not p.prosecdef and p.proname <> 'reject_event_change'),
  null, 'every private function is SECURITY DEFINER');
select is(
  (select array_agg(p.proname::text order by p.proname) from pg_proc p
   where p.pronamespace = 'private'::regnamespace
     and not coalesce(p.proconfig @> array['search_path=""'], false)),
  null, 'every private function has a fixed empty search_path');
select is(
  (select array_agg(p.proname::text order by p.proname) from pg_proc p
   where p.pronamespace = 'private'::regnamespace and p.proname !~ '^_' and p.proname <> 'reject_event_change'
     and obj_description(p.oid, 'pg_proc') is null),
  null, 'every private API function has a comment');
select has_trigger('public', 'user_subscriptions', 'on_user_tier_change', 'the tier-change trigger exists');
select trigger_is('public', 'user_subscriptions', 'on_user_tier_change', 'private', 'on_user_tier_change',
  'the trigger calls private.on_user_tier_change()');

select * from finish();
rollback;
