-- Figures that add up (issue 21): a machine that is not running (held, or stopped/suspended by Fly) costs its
-- storage only, not its CPU and memory. Fly bills a stopped machine's root file system and its volume
-- (https://fly.io/docs/about/pricing/, read 2026-11-30: $0.15 per GB per 30 days for either).
--
--   * public.fly_prices gains `rootfs_gb`;
--   * private.storage_monthly_cost_usd prices a stopped machine's storage;
--   * a trigger on public.user_fly_apps keeps the estimate of every row whose app is wanted: the running
--     price of its size while the machine runs, its storage only while it is held or stopped. It is the one
--     place that rule lives: the engine, the sweep's observations and a price change all go through it.

alter table public.fly_prices drop constraint if exists fly_prices_item_check;
alter table public.fly_prices add constraint fly_prices_item_check
  check (item in ('cpu_shared', 'cpu_performance', 'memory_gb', 'ipv4_dedicated', 'volume_gb', 'rootfs_gb'));
insert into public.fly_prices (item, monthly_usd, included_memory_mb_per_cpu, description, source)
values ('rootfs_gb', 0.15, null,
        'root file system of a stopped machine per GB per 30 days (estimates count 1 GB a machine)',
        'https://fly.io/docs/about/pricing/ (2026-11-30)')
on conflict (item) do nothing;

create or replace function private.storage_monthly_cost_usd(p_volume_gb integer default 0)
returns numeric
language sql
stable
security definer
set search_path = ''
as $$
  select round(rootfs.monthly_usd + coalesce(p_volume_gb, 0) * vol.monthly_usd, 2)
  from public.fly_prices rootfs, public.fly_prices vol
  where rootfs.item = 'rootfs_gb' and vol.item = 'volume_gb'
$$;
revoke all on function private.storage_monthly_cost_usd(integer) from public;
comment on function private.storage_monthly_cost_usd(integer) is
  'Cost of 30 days of a machine that does not run: its root file system (rootfs_gb, 1 GB) and p_volume_gb '
  'of volume (volume_gb), from public.fly_prices.';

create or replace function private.user_fly_apps_set_cost_estimate() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_volume_gb integer := 0;
begin
  if new.desired_state <> 'present' or new.cpu_count is null or new.memory_mb is null then
    return new;
  end if;
  if new.held_at is not null or new.last_machine_state in ('stopped', 'suspended') then
    if new.volume_id is not null then
      select coalesce(p.volume_size_gb, 0) into v_volume_gb
      from public.user_subscriptions s join public.fly_plans p on p.tier = s.tier
      where s.user_id = new.user_id;
    end if;
    new.monthly_cost_estimate_usd := private.storage_monthly_cost_usd(coalesce(v_volume_gb, 0));
  else
    new.monthly_cost_estimate_usd :=
      private.machine_monthly_cost_usd(coalesce(new.cpu_kind, 'shared'), new.cpu_count, new.memory_mb);
  end if;
  return new;
end
$$;
revoke all on function private.user_fly_apps_set_cost_estimate() from public;
comment on function private.user_fly_apps_set_cost_estimate() is
  'Trigger: the estimate of a row whose app is wanted and whose size is recorded: storage only '
  '(private.storage_monthly_cost_usd, the plan''s volume when the row has one) while held or while the '
  'machine is stopped or suspended; the running price of its size (private.machine_monthly_cost_usd) '
  'otherwise. Rows whose app is not wanted keep the estimate the engine records (storage in a grace period, '
  '0 once deleted).';

drop trigger if exists user_fly_apps_cost_estimate on public.user_fly_apps;

create trigger user_fly_apps_cost_estimate
  before insert or update of monthly_cost_estimate_usd, held_at, last_machine_state, desired_state, cpu_kind,
    cpu_count, memory_mb, volume_id
  on public.user_fly_apps
  for each row execute function private.user_fly_apps_set_cost_estimate();

update public.user_fly_apps set monthly_cost_estimate_usd = monthly_cost_estimate_usd
where desired_state = 'present';
