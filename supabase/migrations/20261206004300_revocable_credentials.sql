-- Credentials that can be revoked (issue 26): a user app's credential (SUPABASE_USER_JWT) is revoked when it is
-- re-minted and when the app is deprovisioned (suspended for a grace period, or deleted), by its `jti`. The
-- row records the current token's jti; replacing or dropping it puts the old one on a denylist that the
-- documented RLS pattern checks with public.user_credential_revoked() (README: Security, Credentials).

alter table public.user_fly_apps add column if not exists credential_jti text;
comment on column public.user_fly_apps.credential_jti is
  'The jti of the app''s current credential (never the token). Replacing or clearing it, or deprovisioning '
  'the app, puts the previous jti on private.revoked_user_credentials.';

create table if not exists private.revoked_user_credentials (
  jti text primary key,
  user_id uuid not null,
  revoked_at timestamptz not null default now(),
  -- Until when the token would have been valid; after that the signature check refuses it anyway.
  expires_at timestamptz not null
);
create index if not exists revoked_user_credentials_expires_at_idx
  on private.revoked_user_credentials (expires_at);
comment on table private.revoked_user_credentials is
  'Denylist of revoked user app credentials by jti, until they would have expired (pruned afterwards).';
alter table private.revoked_user_credentials enable row level security;
revoke all on private.revoked_user_credentials from public, anon, authenticated;

-- The patch whitelist gains credential_jti (the zod UserFlyAppPatchSchema lists it too), after the applied_*
-- columns of 20261206001000.
create or replace function private.user_fly_app_patch_columns()
returns text[]
language sql
immutable
security definer
set search_path = ''
as $$
  select array[
    'status', 'fly_app_name', 'fly_org_slug', 'region', 'docker_image', 'cpu_kind', 'cpu_count', 'memory_mb',
    'machine_id', 'image_digest', 'secrets_version', 'secrets_digest', 'deployed_at', 'deleted_at',
    'health_status', 'last_health_check_at', 'monthly_cost_estimate_usd', 'error_message', 'retry_count',
    'next_attempt_at', 'observed_generation', 'drift', 'last_machine_state', 'last_observed_at',
    'delete_after', 'volume_id', 'credential_expires_at', 'credential_key_id', 'applied_tier',
    'applied_plan_version', 'applied_override_version', 'credential_jti'
  ]::text[]
$$;

create or replace function private.revoke_replaced_user_credential() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_deprovisioned boolean := new.status in ('suspended', 'deleted') and old.status is distinct from new.status;
begin
  if old.credential_jti is null then
    return new;
  end if;
  if v_deprovisioned and new.credential_jti is not distinct from old.credential_jti then
    -- The app is going away: its credential goes with it (a re-upgrade mints a new one: the expiry is gone).
    new.credential_jti := null;
    new.credential_expires_at := null;
    new.credential_key_id := null;
  end if;
  if new.credential_jti is distinct from old.credential_jti then
    insert into private.revoked_user_credentials (jti, user_id, expires_at)
    values (old.credential_jti, old.user_id, coalesce(old.credential_expires_at, now() + interval '1 year'))
    on conflict (jti) do nothing;
    delete from private.revoked_user_credentials where expires_at < now() - interval '1 day';
  end if;
  return new;
end
$$;
comment on function private.revoke_replaced_user_credential() is
  'Trigger: when a row''s credential_jti is replaced or the app is deprovisioned (status becomes suspended or '
  'deleted), the previous jti goes on private.revoked_user_credentials (and expired entries are pruned).';
revoke all on function private.revoke_replaced_user_credential() from public, anon, authenticated, service_role;

drop trigger if exists user_fly_apps_revoke_replaced_credential on public.user_fly_apps;
create trigger user_fly_apps_revoke_replaced_credential
  before update of credential_jti, status on public.user_fly_apps
  for each row execute function private.revoke_replaced_user_credential();

create or replace function public.user_credential_revoked() returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from private.revoked_user_credentials r where r.jti = (select auth.jwt() ->> 'jti')
  );
$$;
comment on function public.user_credential_revoked() is
  'Whether the caller''s JWT is a revoked user app credential (its jti is on the denylist). For RLS policies: '
  '... and not (select public.user_credential_revoked()). One primary-key probe per statement.';
revoke all on function public.user_credential_revoked() from public, anon;
grant execute on function public.user_credential_revoked() to authenticated;
