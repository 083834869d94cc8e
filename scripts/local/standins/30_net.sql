-- Stand-in for pg_net 0.20 (supabase/pg_net sql/pg_net.sql): same schema, tables, signatures and checks.
-- Requests are queued here; scripts/local/net_worker.ts plays the background worker. The wake-up is one
-- NOTIFY per transaction, which Postgres delivers only when the enqueuing transaction commits, as pg_net's
-- net.wake() sets the worker's latch from a commit callback.
create schema if not exists net;
grant usage on schema net to anon, authenticated, service_role;

do $$
begin
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'net' and t.typname = 'http_method') then
    create domain net.http_method as text
      check (value ilike 'get' or value ilike 'post' or value ilike 'delete');
  end if;
end
$$;

create unlogged table if not exists net.http_request_queue (
  id bigserial,
  method net.http_method not null,
  url text not null,
  headers jsonb,
  body bytea,
  timeout_milliseconds integer not null
);

create unlogged table if not exists net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out bool,
  error_msg text,
  created timestamptz not null default now()
);
create index if not exists _http_response_created_idx on net._http_response (created);

grant all on net.http_request_queue, net._http_response to public;
grant usage on sequence net.http_request_queue_id_seq to public;

-- Percent-encodes one query-string component (RFC 3986 unreserved characters pass through). Upstream does this
-- in C; only requests with params pay for it here.
create or replace function net._urlencode_string(string varchar) returns text
language sql immutable strict
as $$
  select coalesce(string_agg(
    case when ch ~ '^[A-Za-z0-9_.~-]$' then ch
         else upper(regexp_replace(encode(convert_to(ch, 'utf8'), 'hex'), '(..)', '%\1', 'g')) end,
    '' order by i), '')
  from regexp_split_to_table(string, '') with ordinality as c(ch, i)
$$;

-- Appends encoded params to a URL; rejects what curl would refuse to parse. (C upstream.)
create or replace function net._encode_url_with_params_array(url text, params_array text[]) returns text
language plpgsql immutable
as $$
begin
  if url is null then
    return null;
  end if;
  if url !~* '^https?://[^/\s?#]+' then
    raise exception 'URL using bad/illegal format or missing URL: "%"', url;
  end if;
  if coalesce(array_length(params_array, 1), 0) = 0 then
    return url;
  end if;
  return url || case when position('?' in url) > 0 then '&' else '?' end || array_to_string(params_array, '&');
end
$$;

-- Signals the worker at commit, once per transaction, like upstream's net.wake() (an XactCallback that sets
-- the worker's latch on commit; nothing on abort). Here: one NOTIFY, which Postgres delivers only at commit,
-- guarded by a transaction-local setting so a transaction queueing many requests notifies once. The worker
-- also polls, as upstream's does every second while work remains.
create or replace function net.wake() returns void
language plpgsql volatile
as $$
begin
  if current_setting('net.wake_pending', true) is distinct from 'on' then
    perform set_config('net.wake_pending', 'on', true);
    perform pg_notify('net_worker_wake', '');
  end if;
end
$$;

-- The public functions are plpgsql as upstream's (plans cached per session, no per-call re-planning of
-- helper SQL functions), with the same checks in the same order.
create or replace function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint
language plpgsql volatile parallel safe
as $$
declare
  request_id bigint;
  params_array text[];
begin
  select coalesce(array_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value)), '{}')
  into params_array
  from jsonb_each_text(params);

  insert into net.http_request_queue (method, url, headers, timeout_milliseconds)
  values ('GET', net._encode_url_with_params_array(url, params_array), headers, timeout_milliseconds)
  returning id into request_id;

  perform net.wake();
  return request_id;
end
$$;

create or replace function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint
language plpgsql volatile parallel safe
as $$
declare
  request_id bigint;
  params_array text[];
  content_type text;
begin
  select header_value into content_type
  from jsonb_each_text(coalesce(headers, '{}'::jsonb)) r(header_name, header_value)
  where lower(header_name) = 'content-type'
  limit 1;

  if content_type is null then
    headers := coalesce(headers, '{}'::jsonb) || '{"Content-Type": "application/json"}'::jsonb;
  end if;

  if content_type <> 'application/json' then
    raise exception 'Content-Type header must be "application/json"';
  end if;

  select coalesce(array_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value)), '{}')
  into params_array
  from jsonb_each_text(params);

  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('POST', net._encode_url_with_params_array(url, params_array), headers,
          convert_to(body::text, 'UTF8'), timeout_milliseconds)
  returning id into request_id;

  perform net.wake();
  return request_id;
end
$$;

create or replace function net.http_delete(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000,
  body jsonb default null
) returns bigint
language plpgsql volatile parallel safe
as $$
declare
  request_id bigint;
  params_array text[];
begin
  select coalesce(array_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value)), '{}')
  into params_array
  from jsonb_each_text(params);

  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('DELETE', net._encode_url_with_params_array(url, params_array), headers,
          convert_to(body::text, 'UTF8'), timeout_milliseconds)
  returning id into request_id;

  perform net.wake();
  return request_id;
end
$$;

drop function if exists net._enqueue(net.http_method, text, jsonb, jsonb, bytea, int);
drop function if exists net._params_array(jsonb);

alter function net.http_get(text, jsonb, jsonb, int) called on null input;
grant execute on function net.http_get(text, jsonb, jsonb, int),
  net.http_post(text, jsonb, jsonb, jsonb, int),
  net.http_delete(text, jsonb, jsonb, int, jsonb) to anon, authenticated, service_role;
