-- Volumes per plan, the downgrade grace period and the per-user scoped credential (issue 14):
--   * fly_plans.volume_size_gb / volume_mount_path: a persistent volume for the tier's machine (both or
--     neither); deprovision_grace_seconds: how long an app is kept stopped when a user moves TO this tier
--     (null: the DEPROVISION_GRACE_SECONDS default);
--   * user_fly_apps.delete_after (end of the grace), volume_id (the app's volume), credential_expires_at and
--     credential_key_id (expiry and signing key of the credential in the app's secrets; never the token);
--   * status 'suspended': machine stopped during a grace period, app and volume kept;
--   * private.get_desired_spec (replaced in 20261130000610): the plan carries the volume fields, and the spec
--     the current tier's grace.
-- Runs as the project's non-superuser owner: plain DDL on its own tables and functions only.

alter table public.fly_plans
  add column if not exists volume_size_gb integer,
  add column if not exists volume_mount_path text,
  add column if not exists deprovision_grace_seconds integer;

alter table public.fly_plans drop constraint if exists fly_plans_volume_size_check;
alter table public.fly_plans add constraint fly_plans_volume_size_check
  check (volume_size_gb is null or volume_size_gb between 1 and 500);
alter table public.fly_plans drop constraint if exists fly_plans_volume_mount_path_check;
alter table public.fly_plans add constraint fly_plans_volume_mount_path_check
  check (volume_mount_path is null or (volume_mount_path ~ '^/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$'
                                      and volume_mount_path !~ '//|(^|/)\.\.?(/|$)'));
alter table public.fly_plans drop constraint if exists fly_plans_volume_complete_check;
alter table public.fly_plans add constraint fly_plans_volume_complete_check
  check ((volume_size_gb is null) = (volume_mount_path is null));
alter table public.fly_plans drop constraint if exists fly_plans_grace_check;
alter table public.fly_plans add constraint fly_plans_grace_check
  check (deprovision_grace_seconds is null or deprovision_grace_seconds >= 0);

comment on column public.fly_plans.volume_size_gb is
  'Size in GB (1..500) of the persistent volume the tier''s machine mounts; null: no volume. The engine '
  'extends the volume when this grows and refuses to shrink it.';
comment on column public.fly_plans.volume_mount_path is
  'Absolute path where the volume appears in the machine (e.g. /data); set together with volume_size_gb.';
comment on column public.fly_plans.deprovision_grace_seconds is
  'Seconds an app is kept (machine stopped, volume kept) when a user moves to this tier before it is deleted; '
  'null: the DEPROVISION_GRACE_SECONDS default. An upgrade within the grace starts the same machine again.';

alter table public.user_fly_apps
  add column if not exists delete_after timestamptz,
  add column if not exists volume_id text,
  add column if not exists credential_expires_at timestamptz,
  add column if not exists credential_key_id text;

comment on column public.user_fly_apps.delete_after is
  'End of the grace period of a downgraded (suspended) app: the sweep deletes it after this time.';
comment on column public.user_fly_apps.volume_id is
  'Fly volume id (vol_...) of the app''s persistent volume, if its plan has one.';
comment on column public.user_fly_apps.credential_expires_at is
  'Expiry of the scoped user credential held in the app''s secrets (the token itself is never stored).';
comment on column public.user_fly_apps.credential_key_id is
  'Id of the key that signed the app''s credential (kid, or a fingerprint of the legacy secret).';

-- The status `suspended` (a downgraded app in its grace period) is allowed by 20261130000100_controller_state.

-- private.get_desired_spec carries these plan fields and the current tier's grace: it is replaced once, with
-- the rollout fields too, in 20261130000610_rollout_desired_spec.sql.
