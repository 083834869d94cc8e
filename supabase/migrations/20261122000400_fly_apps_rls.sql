-- Row level security and grants. A user reads only their own app row and events; anon reads nothing;
-- nobody but the service side (service_role, and the database owner the engine connects as) writes.
-- Supabase grants everything in public to anon/authenticated by default privileges: revoke explicitly.

alter table public.user_fly_apps enable row level security;
alter table public.user_fly_app_events enable row level security;
alter table public.fly_plans enable row level security;

revoke all on public.user_fly_apps, public.user_fly_app_events, public.fly_plans from public, anon, authenticated;
grant select on public.user_fly_apps, public.user_fly_app_events, public.fly_plans to authenticated;
grant all on public.user_fly_apps, public.user_fly_app_events, public.fly_plans to service_role;
revoke update, delete, truncate on public.user_fly_app_events from service_role;

drop policy if exists "users read their own fly app" on public.user_fly_apps;
create policy "users read their own fly app" on public.user_fly_apps
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "users read their own fly app events" on public.user_fly_app_events;
create policy "users read their own fly app events" on public.user_fly_app_events
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "signed-in users read plans" on public.fly_plans;
create policy "signed-in users read plans" on public.fly_plans
  for select to authenticated using (true);

-- The archive of seed duplicates lives in private; keep it away from the API roles too.
alter table private.user_fly_apps_archive enable row level security;
revoke all on private.user_fly_apps_archive from public, anon, authenticated, service_role;
