-- get_user_fly_app_status shows the end of a downgrade's grace period, the volume and the credential expiry.
begin;
select plan(4);

insert into auth.users (id) values ('00000000-0000-4000-8000-0000000000d1');
insert into public.user_subscriptions (user_id, tier) values ('00000000-0000-4000-8000-0000000000d1', 'pro');
select from private.drain_tier_outbox(1000, false); -- the tier outbox's drainer records the desired state
update public.user_subscriptions set tier = 'free' where user_id = '00000000-0000-4000-8000-0000000000d1';
select from private.drain_tier_outbox(1000, false);
update public.user_fly_apps
  set status = 'suspended', delete_after = '2026-12-01 00:00:00+00', volume_id = 'vol_0123456789abcdef',
      credential_expires_at = '2027-03-01 00:00:00+00'
  where user_id = '00000000-0000-4000-8000-0000000000d1';

select is(public.get_user_fly_app_status('00000000-0000-4000-8000-0000000000d1') ->> 'status', 'suspended',
  'the status says suspended');
select is((public.get_user_fly_app_status('00000000-0000-4000-8000-0000000000d1') ->> 'delete_after')::timestamptz,
  '2026-12-01 00:00:00+00'::timestamptz, 'the status shows delete_after');
select is(public.get_user_fly_app_status('00000000-0000-4000-8000-0000000000d1') ->> 'volume_id',
  'vol_0123456789abcdef', 'the status shows the volume');
select is((public.get_user_fly_app_status('00000000-0000-4000-8000-0000000000d1')
           ->> 'credential_expires_at')::timestamptz,
  '2027-03-01 00:00:00+00'::timestamptz, 'the status shows the credential expiry, not the credential');

select * from finish();
rollback;
