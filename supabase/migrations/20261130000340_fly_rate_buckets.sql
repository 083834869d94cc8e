-- Fly rate-limit buckets shared by every function instance (issue 12, item 3).
--
-- Hosted Supabase runs a function in several isolates at once, each with its own in-process rate limiter, so
-- limits that Fly counts per organisation or per token (app creates, app deletions) must be drawn from one
-- bucket that all of them see. private.take_rate_tokens is that bucket: an atomic token bucket with
-- reservation, one row per bucket, updated by one statement.
--
-- The table is UNLOGGED: a bucket is a few seconds of state. Skipping the WAL makes every take cheaper (no
-- WAL record, no replication traffic, nothing for backups), and what a crash or failover costs is that
-- the table comes back empty, so every bucket starts full again: at most one extra burst, the same as when
-- every function instance restarts with a fresh in-process limiter.

create unlogged table if not exists private.fly_rate_buckets (
  bucket text primary key check (bucket <> ''),
  -- May go negative: tokens reserved ahead of time by callers that are still waiting for them.
  tokens double precision not null,
  refilled_at timestamptz not null
) with (fillfactor = 50);
comment on table private.fly_rate_buckets is
  'Token buckets shared by every function instance (private.take_rate_tokens). Unlogged: lost on a crash, '
  'which only refills every bucket.';

alter table private.fly_rate_buckets enable row level security;
revoke all on private.fly_rate_buckets from public, anon, authenticated, service_role;

create or replace function private.take_rate_tokens(
  p_bucket text,
  p_rate_per_s double precision,
  p_burst integer,
  p_tokens integer default 1
) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_tokens double precision;
begin
  if p_bucket is null or p_bucket = '' then
    raise exception 'take_rate_tokens: p_bucket is required' using errcode = '22023';
  end if;
  if p_rate_per_s is null or not p_rate_per_s > 0 or p_rate_per_s = 'Infinity' then
    raise exception 'take_rate_tokens: p_rate_per_s must be a positive number' using errcode = '22023';
  end if;
  if p_burst is null or p_burst < 1 then
    raise exception 'take_rate_tokens: p_burst must be at least 1' using errcode = '22023';
  end if;
  if p_tokens is null or p_tokens < 1 then
    raise exception 'take_rate_tokens: p_tokens must be at least 1' using errcode = '22023';
  end if;
  -- One statement: a new bucket starts full; an existing one is refilled for the time since its last take
  -- (capped at the burst) on the row it holds locked, so concurrent takers queue on the row and each sees
  -- the balance the previous one left. The clock is read after the lock is granted (in the sub-select), and
  -- once, so the refill and the timestamp agree.
  insert into private.fly_rate_buckets as b (bucket, tokens, refilled_at)
  values (p_bucket, p_burst - p_tokens, clock_timestamp())
  on conflict (bucket) do update
  set (tokens, refilled_at) = (
    select least(
             p_burst::double precision,
             b.tokens + greatest(extract(epoch from now_.at - b.refilled_at)::double precision, 0) * p_rate_per_s
           ) - p_tokens,
           greatest(now_.at, b.refilled_at)
    from (select clock_timestamp() as at) as now_
  )
  returning b.tokens into v_tokens;
  -- A negative balance is tokens reserved ahead: this caller's are available once it has been paid back.
  return ceil(greatest(-v_tokens, 0) / p_rate_per_s * 1000)::integer;
end
$$;
comment on function private.take_rate_tokens(text, double precision, integer, integer) is
  'Takes p_tokens from the shared token bucket p_bucket (refilled at p_rate_per_s up to p_burst; a new bucket '
  'is full) and returns the milliseconds the caller must wait before using them (0: at once). The tokens are '
  'reserved either way, so callers that each wait the returned time never exceed rate * t + burst in any '
  'window t, across connections. Atomic (one statement, the bucket row locked).';

revoke all on function private.take_rate_tokens(text, double precision, integer, integer)
  from public, anon, authenticated, service_role;
