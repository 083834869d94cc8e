-- Snapshot storage in the price table (issue 22): Fly bills volume snapshots from January 2026 at $0.08 per
-- GB-month beyond the first 10 GB of the organization (https://fly.io/docs/about/pricing/). Usage prices
-- every GB of a user's snapshots still within their retention (an upper bound: the organization's first
-- 10 GB are free).

alter table public.fly_prices drop constraint if exists fly_prices_item_check;
alter table public.fly_prices add constraint fly_prices_item_check
  check (item in ('cpu_shared', 'cpu_performance', 'memory_gb', 'ipv4_dedicated', 'volume_gb', 'rootfs_gb',
                  'snapshot_gb'));
insert into public.fly_prices (item, monthly_usd, included_memory_mb_per_cpu, description, source)
values ('snapshot_gb', 0.08, null,
        'volume snapshot storage per GB per month (Fly bills it beyond the organization''s first 10 GB)',
        'https://fly.io/docs/about/pricing/ (2026-12-06)')
on conflict (item) do nothing;
