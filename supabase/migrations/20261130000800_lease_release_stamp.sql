-- When a reconciler let go of a user's row, and which one it was (issue 12: limits that hold across function
-- instances).
--
-- Fly counts most of its limits per app and per machine. The client keeps those buckets in the process that
-- holds the user's lease; a reconciler in another process that takes the row over right after starts with full
-- buckets while Fly's may have just been emptied. The controller reads these two columns on claim and lets
-- Fly's buckets refill before a new holder's first call (see `_shared/reconcile/controller.ts`).
--
-- One trigger stamps every way a lease ends (release, record_outcome, record_observations, a takeover of an
-- expired lease), so no lease function needs to know.

alter table public.user_fly_apps
  add column if not exists lease_released_at timestamptz,
  add column if not exists lease_released_by text;
comment on column public.user_fly_apps.lease_released_at is
  'When the last lease holder let go of the row (released it, or lost it to a takeover after it expired).';
comment on column public.user_fly_apps.lease_released_by is
  'The lease owner that let go at lease_released_at (a function invocation, the sweep or an ops call).';

create or replace function private.stamp_lease_release()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  new.lease_released_at := now();
  new.lease_released_by := old.lease_owner;
  return new;
end
$$;
comment on function private.stamp_lease_release() is
  'Trigger: records when and by whom a lease on a user_fly_apps row ended.';

drop trigger if exists user_fly_apps_lease_released on public.user_fly_apps;
create trigger user_fly_apps_lease_released
  before update of lease_owner on public.user_fly_apps
  for each row
  when (old.lease_owner is not null and old.lease_owner is distinct from new.lease_owner)
  execute function private.stamp_lease_release();

revoke all on function private.stamp_lease_release() from public, anon, authenticated, service_role;
