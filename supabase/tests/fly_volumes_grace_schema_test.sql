-- Plan volume and grace columns, the row's grace/volume/credential columns, the suspended status, and the
-- desired spec carrying the new plan fields.
begin;
select plan(20);

select has_column('public', 'fly_plans', 'volume_size_gb', 'plans have a volume size');
select has_column('public', 'fly_plans', 'volume_mount_path', 'plans have a mount path');
select has_column('public', 'fly_plans', 'deprovision_grace_seconds', 'plans have a grace period');
select has_column('public', 'user_fly_apps', 'delete_after', 'rows record the end of the grace');
select has_column('public', 'user_fly_apps', 'volume_id', 'rows record the volume');
select has_column('public', 'user_fly_apps', 'credential_expires_at', 'rows record the credential expiry');
select has_column('public', 'user_fly_apps', 'credential_key_id', 'rows record the credential key id');
select hasnt_column('public', 'user_fly_apps', 'credential', 'no column for the token itself');

select throws_ok($$update public.fly_plans set deprovision_grace_seconds = -1 where tier = 'pro'$$,
  '23514', null, 'a negative grace is refused');
select throws_ok($$update public.fly_plans set volume_size_gb = 0, volume_mount_path = '/data' where tier = 'pro'$$,
  '23514', null, 'a volume of size 0 is refused');
select throws_ok($$update public.fly_plans set volume_size_gb = 501, volume_mount_path = '/data' where tier = 'pro'$$,
  '23514', null, 'a volume over 500 GB is refused');
select throws_ok($$update public.fly_plans set volume_size_gb = 1, volume_mount_path = 'data' where tier = 'pro'$$,
  '23514', null, 'a relative mount path is refused');
select throws_ok($$update public.fly_plans set volume_size_gb = 1, volume_mount_path = '/' where tier = 'pro'$$,
  '23514', null, 'mounting over the root is refused');
select throws_ok($$update public.fly_plans set volume_size_gb = 1, volume_mount_path = '/data/../etc' where tier = 'pro'$$,
  '23514', null, 'a path with .. is refused');
select throws_ok($$update public.fly_plans set volume_size_gb = 1 where tier = 'pro'$$,
  '23514', null, 'a size without a mount path is refused');
select lives_ok($$update public.fly_plans
  set volume_size_gb = 2, volume_mount_path = '/data/app_state', deprovision_grace_seconds = 5 where tier = 'pro'$$,
  'a complete volume plan with a grace is accepted');

insert into auth.users (id) values ('00000000-0000-4000-8000-0000000000c1');
insert into public.user_subscriptions (user_id, tier) values ('00000000-0000-4000-8000-0000000000c1', 'pro');
select from private.drain_tier_outbox(1000, false); -- the tier outbox's drainer records the desired state
select is(
  private.get_desired_spec('00000000-0000-4000-8000-0000000000c1') -> 'plan'
    @> '{"volume_size_gb": 2, "volume_mount_path": "/data/app_state", "deprovision_grace_seconds": 5}',
  true, 'the desired plan carries the volume and grace fields');

update public.fly_plans set deprovision_grace_seconds = 7 where tier = 'free';
update public.user_subscriptions set tier = 'free' where user_id = '00000000-0000-4000-8000-0000000000c1';
select from private.drain_tier_outbox(1000, false); -- a reconcile acts on the desired state the drainer recorded
select is(
  private.get_desired_spec('00000000-0000-4000-8000-0000000000c1') - 'desired_generation',
  jsonb_build_object('user_id', '00000000-0000-4000-8000-0000000000c1', 'tier', 'free',
                     'desired_state', 'absent', 'deprovision_grace_seconds', 7, 'plan', null, 'rollout', null,
                     'override', null),
  'a downgrade''s spec carries the grace of the tier moved to');

select lives_ok($$update public.user_fly_apps set status = 'suspended', delete_after = now() + interval '5 seconds'
  where user_id = '00000000-0000-4000-8000-0000000000c1'$$, 'suspended is a valid status');
select throws_ok($$update public.user_fly_apps set status = 'sleeping'
  where user_id = '00000000-0000-4000-8000-0000000000c1'$$, '23514', null, 'other statuses are still refused');

select * from finish();
rollback;
