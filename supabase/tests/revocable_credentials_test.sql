-- Credentials that can be revoked: a re-mint (a new credential_jti) or a deprovision (suspended, deleted) puts
-- the previous jti on the denylist, and public.user_credential_revoked() tells a policy so.
begin;
select plan(10);

insert into auth.users (id) values ('26262626-0000-4000-8000-0000000000c1');
insert into public.user_subscriptions (user_id, tier) values ('26262626-0000-4000-8000-0000000000c1', 'pro');
select from private.drain_tier_outbox(1000, false);
update public.user_fly_apps set credential_jti = 'jti-first', credential_expires_at = now() + interval '90 days',
  credential_key_id = 'k1' where user_id = '26262626-0000-4000-8000-0000000000c1';
select is((select count(*)::int from private.revoked_user_credentials where user_id = '26262626-0000-4000-8000-0000000000c1'),
  0, 'a first credential revokes nothing');

update public.user_fly_apps set credential_jti = 'jti-second', credential_expires_at = now() + interval '90 days'
  where user_id = '26262626-0000-4000-8000-0000000000c1';
select is((select jti from private.revoked_user_credentials where user_id = '26262626-0000-4000-8000-0000000000c1'),
  'jti-first', 'a re-mint revokes the previous credential');
select ok((select expires_at > now() + interval '89 days' from private.revoked_user_credentials where jti = 'jti-first'),
  'kept on the denylist until it would have expired');

set local role authenticated;
set local request.jwt.claims = '{"sub": "26262626-0000-4000-8000-0000000000c1", "role": "authenticated", "jti": "jti-first"}';
select ok(public.user_credential_revoked(), 'the re-minted-over token is revoked for policies');
set local request.jwt.claims = '{"sub": "26262626-0000-4000-8000-0000000000c1", "role": "authenticated", "jti": "jti-second"}';
select ok(not public.user_credential_revoked(), 'the current token is not');
set local request.jwt.claims = '{"sub": "26262626-0000-4000-8000-0000000000c1", "role": "authenticated"}';
select ok(not public.user_credential_revoked(), 'a session without a jti is not');
select throws_ok($$select * from private.revoked_user_credentials$$, '42501', null, 'the denylist is not readable');
reset role;

update public.user_fly_apps set status = 'deleted' where user_id = '26262626-0000-4000-8000-0000000000c1';
select ok(exists(select 1 from private.revoked_user_credentials where jti = 'jti-second'),
  'a deprovision revokes the current credential');
select is((select row(credential_jti, credential_expires_at, credential_key_id)::text from public.user_fly_apps
           where user_id = '26262626-0000-4000-8000-0000000000c1'), '(,,)',
  'and clears it from the row (a re-upgrade mints a new one)');

insert into private.revoked_user_credentials (jti, user_id, expires_at)
  values ('jti-old', '26262626-0000-4000-8000-0000000000c1', now() - interval '2 days');
update public.user_fly_apps set credential_jti = 'jti-third', status = 'active'
  where user_id = '26262626-0000-4000-8000-0000000000c1';
update public.user_fly_apps set credential_jti = 'jti-fourth' where user_id = '26262626-0000-4000-8000-0000000000c1';
select ok(not exists(select 1 from private.revoked_user_credentials where jti = 'jti-old'),
  'entries past their expiry are pruned');

select * from finish();
rollback;
