-- Holds keep their audit (issue 21): holding a user who is already held is refused (55000, naming who holds
-- the machine, since when and why) unless the caller asks to replace the hold, and then the hold_set event
-- records the hold it replaced. Replaces private.set_user_fly_app_hold(uuid, boolean, text, text) of
-- 20261206000400_ops.sql with a version that takes p_replace.

drop function if exists private.set_user_fly_app_hold(uuid, boolean, text, text);

create or replace function private.set_user_fly_app_hold(
  p_user_id uuid,
  p_held boolean,
  p_actor text,
  p_reason text default null,
  p_replace boolean default false
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.user_fly_apps;
  v_replaced jsonb;
begin
  if p_actor is null or p_actor = '' then
    raise exception 'set_user_fly_app_hold: actor is required' using errcode = '22004';
  end if;
  select * into v_row from public.user_fly_apps a where a.user_id = p_user_id for update;
  if not found then
    raise exception 'no app row for user %', p_user_id using errcode = 'P0002';
  end if;
  if p_held and v_row.desired_state <> 'present' then
    raise exception 'user % has no app to hold (desired state %)', p_user_id, v_row.desired_state
      using errcode = '55000';
  end if;
  if p_held and v_row.held_at is not null then
    if not p_replace then
      raise exception 'user % is already held by % since % (%); release it first or replace the hold',
        p_user_id, v_row.held_by, to_char(v_row.held_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        coalesce('reason: ' || v_row.hold_reason, 'no reason given')
        using errcode = '55000';
    end if;
    v_replaced := jsonb_build_object('held_by', v_row.held_by, 'held_at', v_row.held_at,
                                     'reason', v_row.hold_reason);
  end if;
  update public.user_fly_apps a set
    held_at = case when p_held then now() end,
    held_by = case when p_held then p_actor end,
    hold_reason = case when p_held then left(p_reason, 500) end,
    next_attempt_at = now(),
    updated_at = now()
  where a.id = v_row.id
  returning * into v_row;
  perform private.append_user_fly_app_event(p_user_id,
    case when p_held then 'hold_set' else 'hold_released' end, 'info',
    jsonb_build_object('actor', p_actor, 'reason', p_reason)
      || case when v_replaced is null then '{}'::jsonb else jsonb_build_object('replaced', v_replaced) end,
    null, v_row.id);
  return to_jsonb(v_row);
end
$$;
revoke all on function private.set_user_fly_app_hold(uuid, boolean, text, text, boolean) from public;
comment on function private.set_user_fly_app_hold(uuid, boolean, text, text, boolean) is
  'Ops hold (p_held true: held_at = now(), held_by = p_actor, hold_reason) or release (clears them) of a '
  'user''s machine; the row becomes due now so the controller stops (hold) or starts (release) the machine, '
  'and an event hold_set / hold_released names the actor. Holding a held row raises 55000 naming who holds it, '
  'since when and why, unless p_replace: then the hold_set event records the replaced hold under "replaced". '
  'Raises P0002 without a row, 55000 when holding a row whose desired state is absent. Returns the row.';
