-- Demo data for the local stack (`deno task dev`; `supabase db reset` loads it too). Never used in production.
-- Each user is on the tier its name says: the pro and elite users get an app as soon as this runs (the
-- trigger kicks provisioning), the free user is the one to upgrade by hand.
insert into auth.users (id, email) values
  ('00000000-0000-4000-8000-000000000001', 'demo-pro@example.test'),
  ('00000000-0000-4000-8000-000000000002', 'demo-elite@example.test'),
  ('00000000-0000-4000-8000-000000000003', 'demo-free@example.test')
on conflict (id) do nothing;

insert into public.user_subscriptions (user_id, tier) values
  ('00000000-0000-4000-8000-000000000001', 'pro'),
  ('00000000-0000-4000-8000-000000000002', 'elite'),
  ('00000000-0000-4000-8000-000000000003', 'free')
on conflict (user_id) do nothing;
