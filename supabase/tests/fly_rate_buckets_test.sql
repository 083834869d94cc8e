-- The shared token bucket private.take_rate_tokens: a new bucket is full, takes beyond the burst are reserved
-- at the rate, bad arguments are refused, only the owner may call it. (Concurrent takers on several
-- connections: tests/db/rate_buckets.test.ts.)
begin;
select plan(16);
set local client_min_messages = error;

select is((select relpersistence from pg_class where oid = 'private.fly_rate_buckets'::regclass), 'u'::"char",
  'the bucket table is unlogged');
select ok((select relrowsecurity from pg_class where oid = 'private.fly_rate_buckets'::regclass),
  'the bucket table has RLS enabled');

-- (BETWEEN would evaluate the volatile call twice: each range check reads it once, through pg_temp.wait_between.)
create function pg_temp.wait_between(p_wait integer, p_low integer, p_high integer) returns boolean
language sql as $$ select p_wait between p_low and p_high $$;

-- Rate 1 per 100 s, so the few milliseconds this test takes refill nothing that matters.
select is(private.take_rate_tokens('test:a', 0.01, 3), 0, 'a new bucket gives its first token at once');
select is(private.take_rate_tokens('test:a', 0.01, 3), 0, 'the second at once');
select is(private.take_rate_tokens('test:a', 0.01, 3), 0, 'the third (the burst) at once');
select ok(pg_temp.wait_between(private.take_rate_tokens('test:a', 0.01, 3), 99000, 100000),
  'the fourth is reserved one interval (100 s) ahead');
select ok(pg_temp.wait_between(private.take_rate_tokens('test:a', 0.01, 3), 199000, 200000),
  'the fifth two intervals ahead');
select ok((select tokens from private.fly_rate_buckets where bucket = 'test:a') between -2.01 and -1.99,
  'the reservations are recorded as a negative balance');
select is(private.take_rate_tokens('test:b', 0.01, 3), 0, 'another bucket is independent');
select ok(pg_temp.wait_between(private.take_rate_tokens('test:c', 0.01, 3, 5), 199000, 200000),
  'taking 5 tokens from a full bucket of 3 waits for the 2 missing');

-- Refill: a bucket emptied 10 s ago at 1 token/s is full again, never fuller than its burst.
update private.fly_rate_buckets set tokens = 0, refilled_at = clock_timestamp() - interval '10 seconds'
where bucket = 'test:b';
select is(private.take_rate_tokens('test:b', 1, 3, 3), 0, 'an idle bucket refills up to its burst');
select ok(pg_temp.wait_between(private.take_rate_tokens('test:b', 1, 3), 990, 1000), 'but not beyond it');

select throws_ok($$select private.take_rate_tokens('', 1, 3)$$, '22023', null, 'an empty bucket name is refused');
select throws_ok($$select private.take_rate_tokens('test:x', 0, 3)$$, '22023', null, 'a rate of 0 is refused');
select throws_ok($$select private.take_rate_tokens('test:x', 1, 0)$$, '22023', null, 'a burst of 0 is refused');

set local role service_role;
select throws_ok($$select private.take_rate_tokens('test:x', 1, 3)$$, '42501', null,
  'service_role cannot call it (owner only, like the rest of the private API)');
reset role;

select * from finish();
rollback;
