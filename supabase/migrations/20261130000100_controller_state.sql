-- State the controller and the two-tier health sweep record (issue: one controller for every reconcile):
--   * drift / in_sync: the spec drift observe() found on the row's app (image, size, region, env, checks,
--     secrets digest); the sweep records it, a rollout applies it;
--   * last_machine_state / last_observed_at: tier-1 observation of the fleet (org machine listing);
--   * held_at / held_by / hold_reason: ops hold a user's machine stopped; the sweep reports, never repairs it;
--   * fly_sweep_runs: every sweep's report, for ops (SQL, status API, admin API).

alter table public.user_fly_apps
  add column if not exists drift jsonb not null default '{}'::jsonb,
  add column if not exists last_machine_state text,
  add column if not exists last_observed_at timestamptz,
  add column if not exists held_at timestamptz,
  add column if not exists held_by text,
  add column if not exists hold_reason text;

-- In sync: every desired generation observed and no recorded drift. Derived, so it can never disagree.
alter table public.user_fly_apps
  add column if not exists in_sync boolean generated always as
    (observed_generation >= desired_generation and drift = '{}'::jsonb) stored;

alter table public.user_fly_apps drop constraint if exists user_fly_apps_drift_is_object;
alter table public.user_fly_apps add constraint user_fly_apps_drift_is_object
  check (jsonb_typeof(drift) = 'object');
alter table public.user_fly_apps drop constraint if exists user_fly_apps_hold_check;
alter table public.user_fly_apps add constraint user_fly_apps_hold_check
  check (held_at is not null or (held_by is null and hold_reason is null));

-- Status values: a held app (ops keep its machine stopped) and a suspended one (downgrade grace period).
alter table public.user_fly_apps drop constraint if exists user_fly_apps_status_check;
alter table public.user_fly_apps add constraint user_fly_apps_status_check
  check (status in ('pending', 'provisioning', 'active', 'held', 'suspended', 'failed', 'error',
                    'deprovisioning', 'deleted'));

comment on column public.user_fly_apps.drift is
  'Spec drift of the app found by the last observation: {field: {desired, observed}} (empty: none).';
comment on column public.user_fly_apps.in_sync is
  'Generated: false while the row has unobserved desired generations or recorded drift.';
comment on column public.user_fly_apps.last_machine_state is
  'Machine state seen by the last fleet observation (started, stopped, ..., missing).';
comment on column public.user_fly_apps.held_at is
  'Set while ops hold the user''s machine stopped (the sweep reports it and does not repair it).';

create table if not exists public.fly_sweep_runs (
  id bigint generated always as identity primary key,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  duration_ms integer,
  budget_ms integer not null check (budget_ms > 0),
  stopped_early boolean not null default false,
  error text,
  report jsonb not null default '{}'::jsonb
);
create index if not exists fly_sweep_runs_started_at_idx on public.fly_sweep_runs (started_at desc);
comment on table public.fly_sweep_runs is
  'One row per health sweep: when, how long, whether it stopped early, its full report (jsonb), error.';

alter table public.fly_sweep_runs enable row level security;
revoke all on public.fly_sweep_runs from public, anon, authenticated;
grant all on public.fly_sweep_runs to service_role;
