-- Least privilege (issue 26): every privilege the API roles (anon, authenticated, and PUBLIC, which both
-- inherit) hold on every object of the project's schemas (public, private), compared with the intended list.
-- A new table, column, sequence or function that is readable, writable or callable by them fails this test
-- until it is listed here on purpose.
--
-- THE INTENDED LIST is the `intended` CTE below, one row per (kind, object, privilege, grantee). Extend it
-- there, and only for what end users must be able to do.
begin;
select plan(9);

create temporary view intended_api_privileges as
select * from (values
  -- Schema public: every role may look up names in it (PostgreSQL's and Supabase's default).
  ('schema', 'public', 'USAGE', 'anon'),
  ('schema', 'public', 'USAGE', 'authenticated'),
  ('schema', 'public', 'USAGE', 'public'),
  ('function', 'public.get_user_fly_app_status(p_user_id uuid)', 'EXECUTE', 'authenticated'),
  ('function', 'public.user_credential_revoked()', 'EXECUTE', 'authenticated'),
  ('table', 'public.fly_plans', 'SELECT', 'authenticated'),
  ('table', 'public.user_subscriptions', 'SELECT', 'authenticated'),
  ('table', 'public.user_fly_app_usage_daily', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.id', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.user_id', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.fly_app_name', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.status', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.region', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.docker_image', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.cpu_count', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.memory_mb', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.machine_id', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.health_status', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.last_health_check_at', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.error_message', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.retry_count', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.deployed_at', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.deleted_at', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.monthly_cost_estimate_usd', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.created_at', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.updated_at', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.desired_state', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.desired_generation', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.observed_generation', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.next_attempt_at', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.image_digest', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.cpu_kind', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.drift', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.last_machine_state', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.last_observed_at', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.held_at', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.in_sync', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.delete_after', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.volume_id', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.credential_expires_at', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_apps.desired_tier', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_app_events.id', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_app_events.fly_app_id', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_app_events.user_id', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_app_events.event_type', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_app_events.status', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_app_events.created_at', 'SELECT', 'authenticated'),
  ('column', 'public.user_fly_app_events.seq', 'SELECT', 'authenticated')
) as intended(kind, object, privilege, grantee);

create temporary view actual_api_privileges as
with roles as (
  select 0::oid as oid, 'public' as grantee
  union all select oid, rolname from pg_roles where rolname in ('anon', 'authenticated')
),
project_schemas as (
  select oid, nspname from pg_namespace where nspname in ('public', 'private')
),
relations as (
  select case c.relkind when 'S' then 'sequence' when 'v' then 'view' when 'm' then 'view' else 'table' end as kind,
         n.nspname || '.' || c.relname as object, a.privilege_type as privilege, a.grantee as grantee_oid
  from pg_class c
  join project_schemas n on n.oid = c.relnamespace
  cross join lateral aclexplode(coalesce(c.relacl, acldefault(case when c.relkind = 'S' then 's' else 'r' end::"char", c.relowner))) a
  where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
),
columns as (
  select 'column' as kind, n.nspname || '.' || c.relname || '.' || att.attname as object,
         a.privilege_type as privilege, a.grantee as grantee_oid
  from pg_attribute att
  join pg_class c on c.oid = att.attrelid
  join project_schemas n on n.oid = c.relnamespace
  cross join lateral aclexplode(att.attacl) a
  where att.attnum > 0 and not att.attisdropped and att.attacl is not null
),
functions as (
  select 'function' as kind, n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' as object,
         a.privilege_type as privilege, a.grantee as grantee_oid
  from pg_proc p
  join project_schemas n on n.oid = p.pronamespace
  cross join lateral aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
  where not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
),
schemas as (
  select 'schema' as kind, n.nspname as object, a.privilege_type as privilege, a.grantee as grantee_oid
  from pg_namespace n
  join project_schemas s on s.oid = n.oid
  cross join lateral aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
)
select kind, object, privilege, r.grantee
from (select * from relations union all select * from columns union all select * from functions
      union all select * from schemas) p
join roles r on r.oid = p.grantee_oid;

select set_eq(
  $$select kind, object, privilege, grantee from actual_api_privileges$$,
  $$select kind, object, privilege, grantee from intended_api_privileges$$,
  'anon, authenticated and PUBLIC hold exactly the intended privileges on the project''s schemas'
);

-- The attacks of the issue, as the API roles.
insert into auth.users (id) values ('26262626-0000-4000-8000-000000000001');
insert into public.user_subscriptions (user_id, tier) values ('26262626-0000-4000-8000-000000000001', 'pro');
select from private.drain_tier_outbox(1000, false);
update public.user_fly_apps set status = 'held', held_at = now(), held_by = 'ops:alice',
  hold_reason = 'abuse-report #4411 suspected crypto mining', lease_owner = 'fly-apps-admin:secret-attempt'
  where user_id = '26262626-0000-4000-8000-000000000001';
select private.append_user_fly_app_event('26262626-0000-4000-8000-000000000001', 'hold_placed', 'info',
  '{"actor": "ops:alice", "reason": "abuse-report #4411 suspected crypto mining"}'::jsonb);

set local role anon;
select throws_ok($$select setval('public.user_fly_app_events_seq_seq', 9223372036854775807)$$, '42501', null,
  'setval on the events sequence as anon is denied');
select throws_ok($$select nextval('public.fly_sweep_runs_id_seq')$$, '42501', null,
  'nextval on the sweep runs sequence as anon is denied');
reset role;

set local role authenticated;
set local request.jwt.claims = '{"sub": "26262626-0000-4000-8000-000000000001", "role": "authenticated"}';
select throws_ok($$select setval('public.fly_rollout_events_seq_seq', 1)$$, '42501', null,
  'setval as authenticated is denied');
select throws_ok($$select hold_reason, held_by from public.user_fly_apps$$, '42501', null,
  'a user cannot read the operator notes on their row');
select throws_ok($$select lease_owner from public.user_fly_apps$$, '42501', null,
  'nor the lease owner');
select throws_ok($$select metadata from public.user_fly_app_events$$, '42501', null,
  'nor the actor metadata of their events');
select ok(
  public.get_user_fly_app_status('26262626-0000-4000-8000-000000000001')::text !~ '(crypto mining|ops:alice|held_by|hold_reason|lease_owner|secret-attempt)'
    and (public.get_user_fly_app_status('26262626-0000-4000-8000-000000000001') ->> 'held')::boolean,
  'the status read says the app is held, and shows no operator notes, actor or lease owner');
select is((select status from public.user_fly_apps), 'held', 'the columns meant for users stay readable');
reset role;

select * from finish();
rollback;
