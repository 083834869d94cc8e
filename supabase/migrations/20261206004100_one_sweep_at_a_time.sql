-- One sweep at a time (issue 26): a singleton lease the health function takes before a sweep and gives back
-- after it. A second sweep call while one runs joins it (202, background) or answers 409 (?wait=true), so 50
-- concurrent calls make one sweep and one fleet listing, not 50 (which drew 429s from Fly's org listing).

create table if not exists private.sweep_lease (
  singleton boolean primary key default true check (singleton),
  owner text not null,
  acquired_at timestamptz not null default now(),
  expires_at timestamptz not null
);
comment on table private.sweep_lease is
  'The running sweep''s lease (at most one row): its owner (one attempt of check-fly-apps-health), since when, '
  'and until when it holds without being given back (the sweep budget plus a margin, so a crashed sweep '
  'frees it).';
alter table private.sweep_lease enable row level security;
revoke all on private.sweep_lease from public, anon, authenticated;

create or replace function private.take_sweep_lease(p_owner text, p_seconds integer)
returns table (taken boolean, held_by text, held_since timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
begin
  if p_owner is null or p_owner = '' or p_seconds is null or p_seconds < 1 then
    raise exception 'take_sweep_lease: an owner and a positive number of seconds are required'
      using errcode = '22023';
  end if;
  return query
    insert into private.sweep_lease as l (singleton, owner, acquired_at, expires_at)
    values (true, p_owner, now(), now() + make_interval(secs => p_seconds))
    on conflict (singleton) do update
      set owner = excluded.owner, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
      where l.expires_at < now()
    returning true, l.owner, l.acquired_at;
  if not found then
    return query select false, l.owner, l.acquired_at from private.sweep_lease l;
  end if;
end
$$;
comment on function private.take_sweep_lease(text, integer) is
  'Takes the sweep lease for p_owner for p_seconds when it is free or expired: (taken true, held_by, '
  'held_since); else (taken false) with the running sweep''s owner and start.';

create or replace function private.release_sweep_lease(p_owner text) returns boolean
language sql
security definer
set search_path = ''
as $$
  with gone as (delete from private.sweep_lease where owner = p_owner returning 1)
  select exists (select 1 from gone);
$$;
comment on function private.release_sweep_lease(text) is
  'Gives the sweep lease back if p_owner holds it; returns whether it did.';

revoke all on function private.take_sweep_lease(text, integer) from public, anon, authenticated, service_role;
revoke all on function private.release_sweep_lease(text) from public, anon, authenticated, service_role;
