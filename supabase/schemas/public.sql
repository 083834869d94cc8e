--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: public; Type: SCHEMA; Schema: -; Owner: pg_database_owner
--

CREATE SCHEMA public;

ALTER SCHEMA public OWNER TO pg_database_owner;

--
-- Name: SCHEMA public; Type: COMMENT; Schema: -; Owner: pg_database_owner
--

COMMENT ON SCHEMA public IS 'standard public schema';

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: fly_rollouts; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.fly_rollouts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tier text,
    target jsonb NOT NULL,
    canary_count integer DEFAULT 1 NOT NULL,
    batch_size integer NOT NULL,
    max_unavailable numeric,
    health_timeout_s integer DEFAULT 300 NOT NULL,
    max_failures integer DEFAULT 0 NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    direction text DEFAULT 'forward'::text NOT NULL,
    total integer DEFAULT 0 NOT NULL,
    updated integer DEFAULT 0 NOT NULL,
    healthy integer DEFAULT 0 NOT NULL,
    failed integer DEFAULT 0 NOT NULL,
    rolled_back integer DEFAULT 0 NOT NULL,
    rollback_failed integer DEFAULT 0 NOT NULL,
    canaries_failed integer DEFAULT 0 NOT NULL,
    canaries_open integer DEFAULT 0 NOT NULL,
    image_digest text,
    pinned_image text,
    previous_spec jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_by text NOT NULL,
    reason text,
    error text,
    lease_owner text,
    lease_expires_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    stages integer[],
    cohort text,
    bake_s integer DEFAULT 0 NOT NULL,
    baked_batch integer DEFAULT '-1'::integer NOT NULL,
    bake_started_at timestamp with time zone,
    skipped integer DEFAULT 0 NOT NULL,
    wake boolean DEFAULT false NOT NULL,
    include_overridden boolean DEFAULT false NOT NULL,
    CONSTRAINT fly_rollouts_bake_s_check CHECK ((bake_s >= 0)),
    CONSTRAINT fly_rollouts_batch_size_check CHECK ((batch_size > 0)),
    CONSTRAINT fly_rollouts_canary_count_check CHECK ((canary_count >= 0)),
    CONSTRAINT fly_rollouts_check CHECK (((pinned_image IS NULL) OR ((image_digest IS NOT NULL) AND (pinned_image ~~ ('%@'::text || image_digest))))),
    CONSTRAINT fly_rollouts_direction_check CHECK ((direction = ANY (ARRAY['forward'::text, 'rollback'::text]))),
    CONSTRAINT fly_rollouts_health_timeout_s_check CHECK ((health_timeout_s > 0)),
    CONSTRAINT fly_rollouts_image_digest_check CHECK ((image_digest ~ '^sha256:[0-9a-f]{64}$'::text)),
    CONSTRAINT fly_rollouts_max_failures_check CHECK ((max_failures >= 0)),
    CONSTRAINT fly_rollouts_max_unavailable_check CHECK (((max_unavailable > (0)::numeric) AND (max_unavailable <= (1)::numeric))),
    CONSTRAINT fly_rollouts_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'running'::text, 'paused'::text, 'halted'::text, 'completed'::text, 'aborted'::text, 'rolled_back'::text]))),
    CONSTRAINT fly_rollouts_target_is_object CHECK (((jsonb_typeof(target) = 'object'::text) AND (target <> '{}'::jsonb)))
);

ALTER TABLE public.fly_rollouts OWNER TO postgres;

--
-- Name: TABLE fly_rollouts; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.fly_rollouts IS 'One fleet rollout: target (image and/or plan fields), scope (tier, null = all), strategy (canaries, batch size, health gate, max failures), state, counters, the pinned image digest, who started it and why.';

--
-- Name: COLUMN fly_rollouts.state; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollouts.state IS 'pending | running | paused | halted (failures beyond max_failures; resume retries, rollback undoes) | completed | aborted | rolled_back';

--
-- Name: COLUMN fly_rollouts.updated; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollouts.updated IS 'Targets the target spec was applied to (healthy + failed)';

--
-- Name: COLUMN fly_rollouts.image_digest; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollouts.image_digest IS 'Digest Fly reported for the first successful update; every later machine gets image@digest.';

--
-- Name: COLUMN fly_rollouts.stages; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollouts.stages IS 'Percentages of the scope''s users, in order (the last is 100); null: one stage of every user.';

--
-- Name: COLUMN fly_rollouts.cohort; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollouts.cohort IS 'The saved cohort (fly_rollout_cohorts) that went first.';

--
-- Name: COLUMN fly_rollouts.bake_s; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollouts.bake_s IS 'After a batch passes its gates, how long its machines are watched before the next batch starts.';

--
-- Name: COLUMN fly_rollouts.baked_batch; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollouts.baked_batch IS 'The last batch whose bake passed (-1: none).';

--
-- Name: COLUMN fly_rollouts.bake_started_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollouts.bake_started_at IS 'When the bake of the batch after baked_batch began.';

--
-- Name: COLUMN fly_rollouts.wake; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollouts.wake IS 'Whether the rollout starts idle machines (stopped or suspended by Fly''s proxy as their plan allows) to run the health gate on them (the proxy idles them again afterwards); false: they get the new config, stay down and count as applied (idle).';

--
-- Name: COLUMN fly_rollouts.include_overridden; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollouts.include_overridden IS 'Whether users with an image override are rolled out too (the rollout''s image wins for them); false: they are skipped.';

--
-- Name: user_fly_apps; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.user_fly_apps (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    fly_app_name text,
    fly_org_slug text,
    status text DEFAULT 'pending'::text NOT NULL,
    region text,
    docker_image text,
    cpu_count integer,
    memory_mb integer,
    machine_id text,
    health_status text DEFAULT 'unknown'::text NOT NULL,
    last_health_check_at timestamp with time zone,
    error_message text,
    retry_count integer DEFAULT 0 NOT NULL,
    deployed_at timestamp with time zone,
    deleted_at timestamp with time zone,
    monthly_cost_estimate_usd numeric(10,2),
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    desired_state text DEFAULT 'present'::text NOT NULL,
    desired_generation bigint DEFAULT 0 NOT NULL,
    observed_generation bigint DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone,
    lease_owner text,
    lease_expires_at timestamp with time zone,
    secrets_version bigint,
    secrets_digest text,
    image_digest text,
    cpu_kind text,
    drift jsonb DEFAULT '{}'::jsonb NOT NULL,
    last_machine_state text,
    last_observed_at timestamp with time zone,
    held_at timestamp with time zone,
    held_by text,
    hold_reason text,
    in_sync boolean GENERATED ALWAYS AS (((observed_generation >= desired_generation) AND (drift = '{}'::jsonb))) STORED,
    delete_after timestamp with time zone,
    volume_id text,
    credential_expires_at timestamp with time zone,
    credential_key_id text,
    desired_tier text,
    lease_released_at timestamp with time zone,
    lease_released_by text,
    applied_tier text,
    applied_plan_version bigint,
    applied_override_version bigint,
    credential_jti text,
    CONSTRAINT user_fly_apps_cpu_kind_check CHECK (((cpu_kind IS NULL) OR (cpu_kind = ANY (ARRAY['shared'::text, 'performance'::text])))),
    CONSTRAINT user_fly_apps_desired_state_check CHECK ((desired_state = ANY (ARRAY['present'::text, 'absent'::text]))),
    CONSTRAINT user_fly_apps_drift_is_object CHECK ((jsonb_typeof(drift) = 'object'::text)),
    CONSTRAINT user_fly_apps_generations_check CHECK (((desired_generation >= 0) AND (observed_generation >= 0) AND (retry_count >= 0))),
    CONSTRAINT user_fly_apps_health_status_check CHECK ((health_status = ANY (ARRAY['healthy'::text, 'unhealthy'::text, 'starting'::text, 'unknown'::text, 'idle'::text]))),
    CONSTRAINT user_fly_apps_hold_check CHECK (((held_at IS NOT NULL) OR ((held_by IS NULL) AND (hold_reason IS NULL)))),
    CONSTRAINT user_fly_apps_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'provisioning'::text, 'active'::text, 'held'::text, 'suspended'::text, 'failed'::text, 'error'::text, 'deprovisioning'::text, 'deleted'::text])))
);

ALTER TABLE public.user_fly_apps OWNER TO postgres;

--
-- Name: TABLE user_fly_apps; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.user_fly_apps IS 'One row per user, ever: desired state (from the tier, written by the on_user_tier_change trigger) and observed state of the user''s dedicated Fly app. A downgrade marks the row deleted; an upgrade reactivates it. Written only through the private.* API (service side).';

--
-- Name: COLUMN user_fly_apps.status; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.status IS 'pending | provisioning | active | failed (retryable, see next_attempt_at) | error (permanent) | deprovisioning | deleted';

--
-- Name: COLUMN user_fly_apps.desired_state; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.desired_state IS 'present | absent, from the current tier''s plan';

--
-- Name: COLUMN user_fly_apps.desired_generation; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.desired_generation IS 'Bumped by every tier change';

--
-- Name: COLUMN user_fly_apps.observed_generation; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.observed_generation IS 'Highest desired_generation a reconcile has converged Fly to; < desired_generation means work is pending';

--
-- Name: COLUMN user_fly_apps.next_attempt_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.next_attempt_at IS 'When the row is due for a reconcile (null: nothing to do). Set to now() by a tier change, to a backoff time by a retryable failure, cleared by success and by a permanent failure';

--
-- Name: COLUMN user_fly_apps.lease_owner; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.lease_owner IS 'Reconciler currently holding the row (see lease_expires_at)';

--
-- Name: COLUMN user_fly_apps.secrets_version; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.secrets_version IS 'Fly secrets version to pass as min_secrets_version';

--
-- Name: COLUMN user_fly_apps.secrets_digest; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.secrets_digest IS 'SHA-256 over the names and values of the secrets last set on the app (drift detection); never a value';

--
-- Name: COLUMN user_fly_apps.drift; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.drift IS 'Spec drift of the app found by the last observation: {field: {desired, observed}} (empty: none).';

--
-- Name: COLUMN user_fly_apps.last_machine_state; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.last_machine_state IS 'Machine state seen by the last fleet observation (started, stopped, ..., missing).';

--
-- Name: COLUMN user_fly_apps.held_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.held_at IS 'Set while ops hold the user''s machine stopped (the sweep reports it and does not repair it).';

--
-- Name: COLUMN user_fly_apps.in_sync; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.in_sync IS 'Generated: false while the row has unobserved desired generations or recorded drift.';

--
-- Name: COLUMN user_fly_apps.delete_after; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.delete_after IS 'End of the grace period of a downgraded (suspended) app: the sweep deletes it after this time.';

--
-- Name: COLUMN user_fly_apps.volume_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.volume_id IS 'Fly volume id (vol_...) of the app''s persistent volume, if its plan has one.';

--
-- Name: COLUMN user_fly_apps.credential_expires_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.credential_expires_at IS 'Expiry of the scoped user credential held in the app''s secrets (the token itself is never stored).';

--
-- Name: COLUMN user_fly_apps.credential_key_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.credential_key_id IS 'Id of the key that signed the app''s credential (kid, or a fingerprint of the legacy secret).';

--
-- Name: COLUMN user_fly_apps.desired_tier; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.desired_tier IS 'The tier desired_state was last recorded for (null: no subscription). Written only by private._apply_desired_state; compared with user_subscriptions.tier to find changes a bulk marker stands for.';

--
-- Name: COLUMN user_fly_apps.lease_released_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.lease_released_at IS 'When the last lease holder let go of the row (released it, or lost it to a takeover after it expired).';

--
-- Name: COLUMN user_fly_apps.lease_released_by; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.lease_released_by IS 'The lease owner that let go at lease_released_at (a function invocation, the sweep or an ops call).';

--
-- Name: COLUMN user_fly_apps.applied_tier; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.applied_tier IS 'The tier whose plan the machine was last converged to (null: none yet, or unknown for rows older than this column). A desired tier that differs is a tier change: the reconcile applies the new plan at once.';

--
-- Name: COLUMN user_fly_apps.applied_plan_version; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.applied_plan_version IS 'fly_plans.plan_version of applied_tier when the machine was last converged (a newer one is a plan edit: drift until a rollout applies it).';

--
-- Name: COLUMN user_fly_apps.applied_override_version; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.applied_override_version IS 'user_fly_app_overrides.version the machine was last converged to (null: no override).';

--
-- Name: COLUMN user_fly_apps.credential_jti; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.user_fly_apps.credential_jti IS 'The jti of the app''s current credential (never the token). Replacing or clearing it, or deprovisioning the app, puts the previous jti on private.revoked_user_credentials.';

--
-- Name: get_user_fly_app_status(uuid); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.get_user_fly_app_status(p_user_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select case when s.user_id is null and a.id is null then null else jsonb_build_object(
    'user_id', p_user_id,
    'tier', s.tier,
    'desired_state', coalesce(a.desired_state,
                              case when coalesce(p.dedicated_app, false) then 'present' else 'absent' end),
    'status', coalesce(a.status, 'none'),
    'in_sync', coalesce(a.in_sync, not coalesce(p.dedicated_app, false)),
    'health_status', a.health_status,
    'fly_app_name', a.fly_app_name,
    'region', a.region,
    'machine_id', a.machine_id,
    'machine_state', a.last_machine_state,
    'image', a.docker_image,
    'image_digest', a.image_digest,
    'drift', coalesce(a.drift, '{}'::jsonb),
    'cpu_kind', a.cpu_kind,
    'cpu_count', a.cpu_count,
    'memory_mb', a.memory_mb,
    'held', a.held_at is not null,
    'held_at', a.held_at,
    'delete_after', a.delete_after,
    'volume_id', a.volume_id,
    'credential_expires_at', a.credential_expires_at,
    'error_message', a.error_message,
    'retry_count', a.retry_count,
    'next_attempt_at', a.next_attempt_at,
    'deployed_at', a.deployed_at,
    'deleted_at', a.deleted_at,
    'last_health_check_at', a.last_health_check_at,
    'last_observed_at', a.last_observed_at,
    'updated_at', a.updated_at,
    'recent_events', coalesce((
      select jsonb_agg(jsonb_build_object('event_type', e.event_type, 'status', e.status,
                                          'created_at', e.created_at) order by e.seq desc)
      from (select e2.event_type, e2.status, e2.created_at, e2.seq from public.user_fly_app_events e2
            where e2.user_id = p_user_id order by e2.seq desc limit 10) e), '[]'::jsonb)
  ) end
  from (select p_user_id as uid) u
  left join public.user_subscriptions s on s.user_id = u.uid
  left join public.fly_plans p on p.tier = s.tier
  left join public.user_fly_apps a on a.user_id = u.uid
$$;

ALTER FUNCTION public.get_user_fly_app_status(p_user_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION get_user_fly_app_status(p_user_id uuid); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.get_user_fly_app_status(p_user_id uuid) IS 'Status of a user''s dedicated Fly app for the user (RLS: only their own) and ops: tier, desired_state (from the row, else from the tier: a paid user without a row wants an app), status, in_sync, health, machine state, image and digest, drift, size, hold, delete_after (end of a downgrade''s grace period), volume_id, credential_expires_at, error, timestamps and the last 10 events; null when nothing is visible. SECURITY INVOKER: what the caller may read is decided by RLS and the column grants (no operator notes, lease owners or event metadata).';

--
-- Name: user_credential_revoked(); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.user_credential_revoked() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select exists (
    select 1 from private.revoked_user_credentials r where r.jti = (select auth.jwt() ->> 'jti')
  );
$$;

ALTER FUNCTION public.user_credential_revoked() OWNER TO postgres;

--
-- Name: FUNCTION user_credential_revoked(); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.user_credential_revoked() IS 'Whether the caller''s JWT is a revoked user app credential (its jti is on the denylist). For RLS policies: ... and not (select public.user_credential_revoked()). One primary-key probe per statement.';

--
-- Name: fly_plans; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.fly_plans (
    tier text NOT NULL,
    dedicated_app boolean DEFAULT false NOT NULL,
    region text,
    cpu_kind text,
    cpus integer,
    memory_mb integer,
    image text,
    public_services boolean DEFAULT true NOT NULL,
    monthly_cost_estimate_usd numeric(10,2),
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    volume_size_gb integer,
    volume_mount_path text,
    deprovision_grace_seconds integer,
    plan_version bigint DEFAULT 1 NOT NULL,
    idle_action text DEFAULT 'off'::text NOT NULL,
    volume_snapshot_retention_days integer,
    volume_auto_backup boolean,
    CONSTRAINT fly_plans_cpu_kind_check CHECK ((cpu_kind = ANY (ARRAY['shared'::text, 'performance'::text]))),
    CONSTRAINT fly_plans_cpus_check CHECK ((cpus > 0)),
    CONSTRAINT fly_plans_dedicated_needs_size CHECK (((NOT dedicated_app) OR ((region IS NOT NULL) AND (cpu_kind IS NOT NULL) AND (cpus IS NOT NULL) AND (memory_mb IS NOT NULL)))),
    CONSTRAINT fly_plans_grace_check CHECK (((deprovision_grace_seconds IS NULL) OR (deprovision_grace_seconds >= 0))),
    CONSTRAINT fly_plans_idle_action_check CHECK ((idle_action = ANY (ARRAY['off'::text, 'stop'::text, 'suspend'::text]))),
    CONSTRAINT fly_plans_memory_mb_check CHECK ((memory_mb >= 256)),
    CONSTRAINT fly_plans_suspend_limits_check CHECK (((idle_action <> 'suspend'::text) OR (memory_mb IS NULL) OR (memory_mb <= 2048))),
    CONSTRAINT fly_plans_tier_check CHECK ((tier = ANY (ARRAY['free'::text, 'pro'::text, 'elite'::text]))),
    CONSTRAINT fly_plans_volume_complete_check CHECK (((volume_size_gb IS NULL) = (volume_mount_path IS NULL))),
    CONSTRAINT fly_plans_volume_mount_path_check CHECK (((volume_mount_path IS NULL) OR ((volume_mount_path ~ '^/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$'::text) AND (volume_mount_path !~ '//|(^|/)\.\.?(/|$)'::text)))),
    CONSTRAINT fly_plans_volume_size_check CHECK (((volume_size_gb IS NULL) OR ((volume_size_gb >= 1) AND (volume_size_gb <= 500)))),
    CONSTRAINT fly_plans_volume_snapshot_retention_check CHECK (((volume_snapshot_retention_days IS NULL) OR ((volume_snapshot_retention_days >= 1) AND (volume_snapshot_retention_days <= 60))))
);

ALTER TABLE public.fly_plans OWNER TO postgres;

--
-- Name: TABLE fly_plans; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.fly_plans IS 'Tier -> whether the user gets a dedicated Fly app, and its region and guest size. image overrides the configured FLY_APP_IMAGE for that tier when set.';

--
-- Name: COLUMN fly_plans.volume_size_gb; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_plans.volume_size_gb IS 'Size in GB (1..500) of the persistent volume the tier''s machine mounts; null: no volume. The engine extends the volume when this grows and refuses to shrink it.';

--
-- Name: COLUMN fly_plans.volume_mount_path; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_plans.volume_mount_path IS 'Absolute path where the volume appears in the machine (e.g. /data); set together with volume_size_gb.';

--
-- Name: COLUMN fly_plans.deprovision_grace_seconds; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_plans.deprovision_grace_seconds IS 'Seconds an app is kept (machine stopped, volume kept) when a user moves to this tier before it is deleted; null: the DEPROVISION_GRACE_SECONDS default. An upgrade within the grace starts the same machine again.';

--
-- Name: COLUMN fly_plans.plan_version; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_plans.plan_version IS 'Bumped by every change of the plan: which version of a tier''s plan a machine was converged to is recorded in user_fly_apps.applied_plan_version.';

--
-- Name: COLUMN fly_plans.idle_action; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_plans.idle_action IS 'What Fly''s proxy does with the tier''s machine when no request comes in: off (keeps it running, the default), stop or suspend (at most 2048 MB of memory); the next request starts or resumes it. A stopped or suspended machine costs its storage only.';

--
-- Name: COLUMN fly_plans.volume_snapshot_retention_days; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_plans.volume_snapshot_retention_days IS 'Days Fly keeps the snapshots of the tier''s volume (1..60; null: Fly''s default, 5). Also how long a downgraded user''s data can be restored after the volume is deleted.';

--
-- Name: COLUMN fly_plans.volume_auto_backup; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_plans.volume_auto_backup IS 'Whether Fly takes daily automatic snapshots of the tier''s volume (null: Fly''s default, on).';

--
-- Name: fly_prices; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.fly_prices (
    item text NOT NULL,
    monthly_usd numeric(10,4) NOT NULL,
    included_memory_mb_per_cpu integer,
    description text NOT NULL,
    source text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT fly_prices_included_memory_mb_per_cpu_check CHECK ((included_memory_mb_per_cpu >= 0)),
    CONSTRAINT fly_prices_item_check CHECK ((item = ANY (ARRAY['cpu_shared'::text, 'cpu_performance'::text, 'memory_gb'::text, 'ipv4_dedicated'::text, 'volume_gb'::text, 'rootfs_gb'::text, 'snapshot_gb'::text]))),
    CONSTRAINT fly_prices_monthly_usd_check CHECK ((monthly_usd >= (0)::numeric))
);

ALTER TABLE public.fly_prices OWNER TO postgres;

--
-- Name: TABLE fly_prices; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.fly_prices IS 'Fly.io prices per 30 days of running (USD), editable by ops: one CPU of each kind with the memory it includes, additional memory per GB, a dedicated IPv4 address, a volume GB, a stopped machine''s root file system GB. Changing a price recomputes monthly_cost_estimate_usd of every plan and row.';

--
-- Name: fly_rollout_cohorts; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.fly_rollout_cohorts (
    name text NOT NULL,
    user_ids uuid[] NOT NULL,
    created_by text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT fly_rollout_cohorts_name_check CHECK ((name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'::text)),
    CONSTRAINT fly_rollout_cohorts_user_ids_check CHECK (((cardinality(user_ids) >= 1) AND (cardinality(user_ids) <= 1000)))
);

ALTER TABLE public.fly_rollout_cohorts OWNER TO postgres;

--
-- Name: TABLE fly_rollout_cohorts; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.fly_rollout_cohorts IS 'Named sets of users a rollout can send first (before its first stage), saved by operators.';

--
-- Name: fly_rollout_events; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.fly_rollout_events (
    seq bigint NOT NULL,
    rollout_id uuid NOT NULL,
    event_type text NOT NULL,
    actor text NOT NULL,
    from_state text,
    to_state text,
    reason text,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL
);

ALTER TABLE public.fly_rollout_events OWNER TO postgres;

--
-- Name: TABLE fly_rollout_events; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.fly_rollout_events IS 'Append-only: every state change of a rollout (created, started, paused, resumed, halted, aborted, rollback_started, completed, rolled_back, digest_pinned) with its actor.';

--
-- Name: fly_rollout_events_seq_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

ALTER TABLE public.fly_rollout_events ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.fly_rollout_events_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: fly_rollout_targets; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.fly_rollout_targets (
    rollout_id uuid NOT NULL,
    user_id uuid NOT NULL,
    batch integer NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    previous jsonb DEFAULT '{}'::jsonb NOT NULL,
    image_digest text,
    error text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    gate_started_at timestamp with time zone,
    machine_state text,
    failing_checks text[],
    skip_reason text,
    stage text,
    bucket smallint,
    CONSTRAINT fly_rollout_targets_batch_check CHECK ((batch >= 0)),
    CONSTRAINT fly_rollout_targets_bucket_check CHECK (((bucket >= 0) AND (bucket <= 99))),
    CONSTRAINT fly_rollout_targets_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'updating'::text, 'healthy'::text, 'failed'::text, 'skipped'::text, 'rolling_back'::text, 'rolled_back'::text, 'rollback_failed'::text])))
);

ALTER TABLE public.fly_rollout_targets OWNER TO postgres;

--
-- Name: TABLE fly_rollout_targets; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.fly_rollout_targets IS 'Per-user progress of a rollout: batch, state (pending | updating | healthy | failed | rolling_back | rolled_back | rollback_failed), attempts, the previous spec for rollback, the digest it got, last error.';

--
-- Name: COLUMN fly_rollout_targets.gate_started_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollout_targets.gate_started_at IS 'When the target''s update (or rollback) was applied: its health gate ends health_timeout_s after this.';

--
-- Name: COLUMN fly_rollout_targets.machine_state; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollout_targets.machine_state IS 'The machine state the driver''s last look at the gate saw.';

--
-- Name: COLUMN fly_rollout_targets.failing_checks; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollout_targets.failing_checks IS 'The checks the driver''s last look saw critical or not reported yet.';

--
-- Name: COLUMN fly_rollout_targets.skip_reason; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollout_targets.skip_reason IS 'skipped: why the target was left alone (not_provisioned, overridden; refused: a rollback whose previous spec the user''s reconcile refuses for good); healthy: held or idle (config applied to the stopped machine, no gate).';

--
-- Name: COLUMN fly_rollout_targets.stage; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollout_targets.stage IS 'The part of the rollout the target belongs to: canary, users (named users or a cohort), or a stage percentage such as 10%.';

--
-- Name: COLUMN fly_rollout_targets.bucket; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.fly_rollout_targets.bucket IS 'The user''s stable bucket (0-99, private.fly_rollout_bucket).';

--
-- Name: fly_sweep_runs; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.fly_sweep_runs (
    id bigint NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    duration_ms integer,
    budget_ms integer NOT NULL,
    stopped_early boolean DEFAULT false NOT NULL,
    error text,
    report jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT fly_sweep_runs_budget_ms_check CHECK ((budget_ms > 0))
);

ALTER TABLE public.fly_sweep_runs OWNER TO postgres;

--
-- Name: TABLE fly_sweep_runs; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.fly_sweep_runs IS 'One row per health sweep: when, how long, whether it stopped early, its full report (jsonb), error.';

--
-- Name: fly_sweep_runs_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

ALTER TABLE public.fly_sweep_runs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.fly_sweep_runs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: user_fly_app_events; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.user_fly_app_events (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    fly_app_id uuid,
    user_id uuid NOT NULL,
    event_type text NOT NULL,
    status text DEFAULT 'info'::text NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    error_details text,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    seq bigint NOT NULL
);

ALTER TABLE public.user_fly_app_events OWNER TO postgres;

--
-- Name: TABLE user_fly_app_events; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.user_fly_app_events IS 'Append-only audit log of everything done to a user''s Fly app; ordered by seq. Never holds secret values.';

--
-- Name: user_fly_app_events_seq_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

ALTER TABLE public.user_fly_app_events ALTER COLUMN seq ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.user_fly_app_events_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: user_fly_app_overrides; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.user_fly_app_overrides (
    user_id uuid NOT NULL,
    cpu_kind text,
    cpus integer,
    memory_mb integer,
    region text,
    image text,
    reason text,
    actor text NOT NULL,
    version bigint DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_fly_app_overrides_cpu_kind_check CHECK ((cpu_kind = ANY (ARRAY['shared'::text, 'performance'::text]))),
    CONSTRAINT user_fly_app_overrides_cpus_check CHECK (((cpus >= 1) AND (cpus <= 16))),
    CONSTRAINT user_fly_app_overrides_image_check CHECK (((image ~ '^\S+$'::text) AND (length(image) <= 512))),
    CONSTRAINT user_fly_app_overrides_memory_mb_check CHECK (((memory_mb >= 256) AND (memory_mb <= 131072))),
    CONSTRAINT user_fly_app_overrides_not_empty CHECK ((num_nonnulls(cpu_kind, cpus, memory_mb, region, image) > 0)),
    CONSTRAINT user_fly_app_overrides_reason_check CHECK ((length(reason) <= 500)),
    CONSTRAINT user_fly_app_overrides_region_check CHECK ((region ~ '^[a-z]{3}$'::text))
);

ALTER TABLE public.user_fly_app_overrides OWNER TO postgres;

--
-- Name: TABLE user_fly_app_overrides; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.user_fly_app_overrides IS 'Per-user ops overrides of the tier plan (what a support engineer sets for one customer): the effective spec is override, then tier plan, then rollout. Written only by private.set_user_fly_app_override.';

--
-- Name: user_fly_app_usage_daily; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.user_fly_app_usage_daily (
    user_id uuid NOT NULL,
    day date NOT NULL,
    running_seconds integer DEFAULT 0 NOT NULL,
    observations integer DEFAULT 0 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_fly_app_usage_daily_observations_check CHECK ((observations >= 0)),
    CONSTRAINT user_fly_app_usage_daily_running_seconds_check CHECK (((running_seconds >= 0) AND (running_seconds <= 86400)))
);

ALTER TABLE public.user_fly_app_usage_daily OWNER TO postgres;

--
-- Name: TABLE user_fly_app_usage_daily; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.user_fly_app_usage_daily IS 'Running time of each user''s machine per UTC day, accumulated by private.record_machine_observations from successive observed states (the time between two observations counts as running when the earlier one saw the machine started, up to a maximum gap).';

--
-- Name: user_fly_volume_moves; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.user_fly_volume_moves (
    id bigint NOT NULL,
    user_id uuid NOT NULL,
    kind text NOT NULL,
    snapshot_id text,
    from_volume_id text NOT NULL,
    to_volume_id text,
    keep_days integer DEFAULT 7 NOT NULL,
    requested_by text NOT NULL,
    reason text,
    state text DEFAULT 'pending'::text NOT NULL,
    requested_at timestamp with time zone DEFAULT now() NOT NULL,
    done_at timestamp with time zone,
    keep_until timestamp with time zone,
    kept_state text,
    kept_size_gb integer,
    CONSTRAINT user_fly_volume_moves_done CHECK (((state <> 'done'::text) OR ((to_volume_id IS NOT NULL) AND (done_at IS NOT NULL) AND (keep_until IS NOT NULL) AND (kept_state IS NOT NULL)))),
    CONSTRAINT user_fly_volume_moves_keep_days_check CHECK (((keep_days >= 1) AND (keep_days <= 60))),
    CONSTRAINT user_fly_volume_moves_kept_size_gb_check CHECK (((kept_size_gb IS NULL) OR (kept_size_gb > 0))),
    CONSTRAINT user_fly_volume_moves_kept_state_check CHECK ((kept_state = ANY (ARRAY['kept'::text, 'reverted'::text, 'deleted'::text]))),
    CONSTRAINT user_fly_volume_moves_kind_check CHECK ((kind = ANY (ARRAY['restore'::text, 'revert'::text, 'recovery'::text]))),
    CONSTRAINT user_fly_volume_moves_restore_snapshot CHECK (((kind <> 'restore'::text) OR (snapshot_id IS NOT NULL))),
    CONSTRAINT user_fly_volume_moves_revert_target CHECK (((kind <> 'revert'::text) OR (to_volume_id IS NOT NULL))),
    CONSTRAINT user_fly_volume_moves_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'done'::text, 'canceled'::text])))
);

ALTER TABLE public.user_fly_volume_moves OWNER TO postgres;

--
-- Name: TABLE user_fly_volume_moves; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.user_fly_volume_moves IS 'Operator restores (a new volume from snapshot_id), reverts (back onto the volume a restore kept) and recoveries from a lost host (requested_at: when the host was first seen unreachable): pending until the engine applied it, then done with the volume it left (from_volume_id) kept detached until keep_until (kept_state kept; kept_size_gb of storage, in usage), then deleted after a final snapshot, or reverted to.';

--
-- Name: user_fly_volume_moves_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

ALTER TABLE public.user_fly_volume_moves ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.user_fly_volume_moves_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: user_fly_volume_snapshots; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.user_fly_volume_snapshots (
    id bigint NOT NULL,
    user_id uuid NOT NULL,
    app_name text NOT NULL,
    volume_id text NOT NULL,
    region text NOT NULL,
    snapshot_id text,
    reason text NOT NULL,
    status text DEFAULT 'requested'::text NOT NULL,
    size_bytes bigint,
    volume_size_gb integer,
    retention_days integer,
    requested_at timestamp with time zone DEFAULT now() NOT NULL,
    created_at timestamp with time zone,
    expires_at timestamp with time zone,
    CONSTRAINT user_fly_volume_snapshots_created_complete CHECK (((status <> 'created'::text) OR ((snapshot_id IS NOT NULL) AND (created_at IS NOT NULL) AND (expires_at IS NOT NULL)))),
    CONSTRAINT user_fly_volume_snapshots_reason_check CHECK ((reason = ANY (ARRAY['final'::text, 'ops'::text]))),
    CONSTRAINT user_fly_volume_snapshots_retention_days_check CHECK (((retention_days IS NULL) OR ((retention_days >= 1) AND (retention_days <= 60)))),
    CONSTRAINT user_fly_volume_snapshots_size_bytes_check CHECK (((size_bytes IS NULL) OR (size_bytes >= 0))),
    CONSTRAINT user_fly_volume_snapshots_status_check CHECK ((status = ANY (ARRAY['requested'::text, 'created'::text, 'gone'::text]))),
    CONSTRAINT user_fly_volume_snapshots_volume_size_gb_check CHECK (((volume_size_gb IS NULL) OR (volume_size_gb > 0)))
);

ALTER TABLE public.user_fly_volume_snapshots OWNER TO postgres;

--
-- Name: TABLE user_fly_volume_snapshots; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.user_fly_volume_snapshots IS 'Snapshots this system took of users'' volumes: reason final (before a deletion) or ops; status requested (asked of Fly, not yet found created), created (size, expiry), gone (Fly no longer has it). Written by the engine; restores read the newest created one within its retention.';

--
-- Name: user_fly_volume_snapshots_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
--

ALTER TABLE public.user_fly_volume_snapshots ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.user_fly_volume_snapshots_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: user_subscriptions; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.user_subscriptions (
    user_id uuid NOT NULL,
    tier text DEFAULT 'free'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_subscriptions_tier_check CHECK ((tier = ANY (ARRAY['free'::text, 'pro'::text, 'elite'::text])))
);

ALTER TABLE public.user_subscriptions OWNER TO postgres;

--
-- Name: TABLE user_subscriptions; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.user_subscriptions IS 'Billing tier per user; a change drives the Fly app.';

--
-- Name: fly_plans fly_plans_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.fly_plans
    ADD CONSTRAINT fly_plans_pkey PRIMARY KEY (tier);

--
-- Name: fly_prices fly_prices_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.fly_prices
    ADD CONSTRAINT fly_prices_pkey PRIMARY KEY (item);

--
-- Name: fly_rollout_cohorts fly_rollout_cohorts_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.fly_rollout_cohorts
    ADD CONSTRAINT fly_rollout_cohorts_pkey PRIMARY KEY (name);

--
-- Name: fly_rollout_events fly_rollout_events_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.fly_rollout_events
    ADD CONSTRAINT fly_rollout_events_pkey PRIMARY KEY (seq);

--
-- Name: fly_rollout_targets fly_rollout_targets_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.fly_rollout_targets
    ADD CONSTRAINT fly_rollout_targets_pkey PRIMARY KEY (rollout_id, user_id);

--
-- Name: fly_rollouts fly_rollouts_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.fly_rollouts
    ADD CONSTRAINT fly_rollouts_pkey PRIMARY KEY (id);

--
-- Name: fly_sweep_runs fly_sweep_runs_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.fly_sweep_runs
    ADD CONSTRAINT fly_sweep_runs_pkey PRIMARY KEY (id);

--
-- Name: user_fly_app_events user_fly_app_events_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.user_fly_app_events
    ADD CONSTRAINT user_fly_app_events_pkey PRIMARY KEY (id);

--
-- Name: user_fly_app_overrides user_fly_app_overrides_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.user_fly_app_overrides
    ADD CONSTRAINT user_fly_app_overrides_pkey PRIMARY KEY (user_id);

--
-- Name: user_fly_app_usage_daily user_fly_app_usage_daily_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.user_fly_app_usage_daily
    ADD CONSTRAINT user_fly_app_usage_daily_pkey PRIMARY KEY (user_id, day);

--
-- Name: user_fly_apps user_fly_apps_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.user_fly_apps
    ADD CONSTRAINT user_fly_apps_pkey PRIMARY KEY (id);

--
-- Name: user_fly_volume_moves user_fly_volume_moves_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.user_fly_volume_moves
    ADD CONSTRAINT user_fly_volume_moves_pkey PRIMARY KEY (id);

--
-- Name: user_fly_volume_snapshots user_fly_volume_snapshots_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.user_fly_volume_snapshots
    ADD CONSTRAINT user_fly_volume_snapshots_pkey PRIMARY KEY (id);

--
-- Name: user_fly_volume_snapshots user_fly_volume_snapshots_snapshot_id_key; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.user_fly_volume_snapshots
    ADD CONSTRAINT user_fly_volume_snapshots_snapshot_id_key UNIQUE (snapshot_id);

--
-- Name: user_subscriptions user_subscriptions_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.user_subscriptions
    ADD CONSTRAINT user_subscriptions_pkey PRIMARY KEY (user_id);

--
-- Name: fly_rollout_events_rollout_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX fly_rollout_events_rollout_idx ON public.fly_rollout_events USING btree (rollout_id, seq);

--
-- Name: fly_rollout_targets_batch_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX fly_rollout_targets_batch_idx ON public.fly_rollout_targets USING btree (rollout_id, batch, state);

--
-- Name: fly_rollout_targets_user_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX fly_rollout_targets_user_idx ON public.fly_rollout_targets USING btree (user_id);

--
-- Name: fly_rollouts_created_at_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX fly_rollouts_created_at_idx ON public.fly_rollouts USING btree (created_at DESC);

--
-- Name: fly_rollouts_one_active_per_scope; Type: INDEX; Schema: public; Owner: postgres
--

CREATE UNIQUE INDEX fly_rollouts_one_active_per_scope ON public.fly_rollouts USING btree (COALESCE(tier, '*'::text)) WHERE (state = ANY (ARRAY['pending'::text, 'running'::text, 'paused'::text, 'halted'::text]));

--
-- Name: fly_sweep_runs_started_at_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX fly_sweep_runs_started_at_idx ON public.fly_sweep_runs USING btree (started_at DESC);

--
-- Name: user_fly_app_events_app_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX user_fly_app_events_app_idx ON public.user_fly_app_events USING btree (fly_app_id, seq);

--
-- Name: user_fly_app_events_user_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX user_fly_app_events_user_idx ON public.user_fly_app_events USING btree (user_id, seq);

--
-- Name: user_fly_apps_due_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX user_fly_apps_due_idx ON public.user_fly_apps USING btree (next_attempt_at) WHERE (next_attempt_at IS NOT NULL);

--
-- Name: user_fly_apps_fly_app_name_key; Type: INDEX; Schema: public; Owner: postgres
--

CREATE UNIQUE INDEX user_fly_apps_fly_app_name_key ON public.user_fly_apps USING btree (fly_app_name);

--
-- Name: user_fly_apps_health_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX user_fly_apps_health_idx ON public.user_fly_apps USING btree (last_health_check_at NULLS FIRST) WHERE ((status = 'active'::text) AND (desired_state = 'present'::text));

--
-- Name: user_fly_apps_user_id_key; Type: INDEX; Schema: public; Owner: postgres
--

CREATE UNIQUE INDEX user_fly_apps_user_id_key ON public.user_fly_apps USING btree (user_id);

--
-- Name: user_fly_volume_moves_kept; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX user_fly_volume_moves_kept ON public.user_fly_volume_moves USING btree (keep_until) WHERE (kept_state = 'kept'::text);

--
-- Name: user_fly_volume_moves_one_pending; Type: INDEX; Schema: public; Owner: postgres
--

CREATE UNIQUE INDEX user_fly_volume_moves_one_pending ON public.user_fly_volume_moves USING btree (user_id) WHERE (state = 'pending'::text);

--
-- Name: user_fly_volume_snapshots_user_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX user_fly_volume_snapshots_user_idx ON public.user_fly_volume_snapshots USING btree (user_id, created_at DESC);

--
-- Name: user_fly_volume_snapshots_volume_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX user_fly_volume_snapshots_volume_idx ON public.user_fly_volume_snapshots USING btree (volume_id) WHERE (status = 'requested'::text);

--
-- Name: fly_plans fly_plans_cost_estimate; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER fly_plans_cost_estimate BEFORE INSERT OR UPDATE OF dedicated_app, cpu_kind, cpus, memory_mb, monthly_cost_estimate_usd ON public.fly_plans FOR EACH ROW EXECUTE FUNCTION private.fly_plans_set_cost_estimate();

--
-- Name: fly_plans fly_plans_plan_version; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER fly_plans_plan_version BEFORE UPDATE OF dedicated_app, region, cpu_kind, cpus, memory_mb, image, public_services, volume_size_gb, volume_mount_path ON public.fly_plans FOR EACH ROW WHEN ((((((((((old.dedicated_app IS DISTINCT FROM new.dedicated_app) OR (old.region IS DISTINCT FROM new.region)) OR (old.cpu_kind IS DISTINCT FROM new.cpu_kind)) OR (old.cpus IS DISTINCT FROM new.cpus)) OR (old.memory_mb IS DISTINCT FROM new.memory_mb)) OR (old.image IS DISTINCT FROM new.image)) OR (old.public_services IS DISTINCT FROM new.public_services)) OR (old.volume_size_gb IS DISTINCT FROM new.volume_size_gb)) OR (old.volume_mount_path IS DISTINCT FROM new.volume_mount_path))) EXECUTE FUNCTION private.fly_plans_bump_version();

--
-- Name: fly_prices fly_prices_refresh_estimates; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER fly_prices_refresh_estimates AFTER INSERT OR DELETE OR UPDATE ON public.fly_prices FOR EACH STATEMENT EXECUTE FUNCTION private.fly_prices_changed();

--
-- Name: fly_rollout_events fly_rollout_events_append_only; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER fly_rollout_events_append_only BEFORE DELETE OR UPDATE ON public.fly_rollout_events FOR EACH ROW EXECUTE FUNCTION private.reject_fly_rollout_event_change();

--
-- Name: fly_rollouts fly_rollouts_free_lease; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER fly_rollouts_free_lease BEFORE UPDATE OF state, direction ON public.fly_rollouts FOR EACH ROW WHEN (((old.direction IS DISTINCT FROM new.direction) OR ((new.state = 'aborted'::text) AND (old.state IS DISTINCT FROM new.state)))) EXECUTE FUNCTION private.free_fly_rollout_lease();

--
-- Name: fly_rollouts fly_rollouts_record_in_plans; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER fly_rollouts_record_in_plans AFTER UPDATE OF state ON public.fly_rollouts FOR EACH ROW WHEN (((new.state = ANY (ARRAY['completed'::text, 'rolled_back'::text])) AND (old.state IS DISTINCT FROM new.state))) EXECUTE FUNCTION private.fly_rollout_record_in_plans();

--
-- Name: fly_rollouts fly_rollouts_release_image_overrides; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER fly_rollouts_release_image_overrides AFTER UPDATE OF state ON public.fly_rollouts FOR EACH ROW WHEN (((new.state = 'completed'::text) AND (old.state IS DISTINCT FROM 'completed'::text) AND new.include_overridden AND (new.direction = 'forward'::text))) EXECUTE FUNCTION private.release_rolled_out_image_overrides();

--
-- Name: user_subscriptions on_user_subscription_change; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER on_user_subscription_change AFTER INSERT OR DELETE ON public.user_subscriptions FOR EACH ROW EXECUTE FUNCTION private.on_user_tier_change();

--
-- Name: user_subscriptions on_user_tier_change; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER on_user_tier_change AFTER UPDATE OF tier ON public.user_subscriptions FOR EACH ROW WHEN ((old.tier IS DISTINCT FROM new.tier)) EXECUTE FUNCTION private.on_user_tier_change();

--
-- Name: user_fly_app_events user_fly_app_events_append_only; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER user_fly_app_events_append_only BEFORE DELETE OR UPDATE ON public.user_fly_app_events FOR EACH ROW EXECUTE FUNCTION private.reject_event_change();

--
-- Name: user_fly_apps user_fly_apps_cost_estimate; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER user_fly_apps_cost_estimate BEFORE INSERT OR UPDATE OF monthly_cost_estimate_usd, held_at, last_machine_state, desired_state, cpu_kind, cpu_count, memory_mb, volume_id ON public.user_fly_apps FOR EACH ROW EXECUTE FUNCTION private.user_fly_apps_set_cost_estimate();

--
-- Name: user_fly_apps user_fly_apps_lease_released; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER user_fly_apps_lease_released BEFORE UPDATE OF lease_owner ON public.user_fly_apps FOR EACH ROW WHEN (((old.lease_owner IS NOT NULL) AND (old.lease_owner IS DISTINCT FROM new.lease_owner))) EXECUTE FUNCTION private.stamp_lease_release();

--
-- Name: user_fly_apps user_fly_apps_revoke_replaced_credential; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER user_fly_apps_revoke_replaced_credential BEFORE UPDATE OF credential_jti, status ON public.user_fly_apps FOR EACH ROW EXECUTE FUNCTION private.revoke_replaced_user_credential();

--
-- Name: fly_rollout_events fly_rollout_events_rollout_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.fly_rollout_events
    ADD CONSTRAINT fly_rollout_events_rollout_id_fkey FOREIGN KEY (rollout_id) REFERENCES public.fly_rollouts(id) ON DELETE CASCADE;

--
-- Name: fly_rollout_targets fly_rollout_targets_rollout_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.fly_rollout_targets
    ADD CONSTRAINT fly_rollout_targets_rollout_id_fkey FOREIGN KEY (rollout_id) REFERENCES public.fly_rollouts(id) ON DELETE CASCADE;

--
-- Name: fly_rollouts fly_rollouts_tier_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.fly_rollouts
    ADD CONSTRAINT fly_rollouts_tier_fkey FOREIGN KEY (tier) REFERENCES public.fly_plans(tier);

--
-- Name: user_fly_app_events user_fly_app_events_fly_app_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.user_fly_app_events
    ADD CONSTRAINT user_fly_app_events_fly_app_id_fkey FOREIGN KEY (fly_app_id) REFERENCES public.user_fly_apps(id) ON DELETE CASCADE;

--
-- Name: user_subscriptions user_subscriptions_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.user_subscriptions
    ADD CONSTRAINT user_subscriptions_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

--
-- Name: fly_plans; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.fly_plans ENABLE ROW LEVEL SECURITY;

--
-- Name: fly_prices; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.fly_prices ENABLE ROW LEVEL SECURITY;

--
-- Name: fly_rollout_cohorts; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.fly_rollout_cohorts ENABLE ROW LEVEL SECURITY;

--
-- Name: fly_rollout_events; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.fly_rollout_events ENABLE ROW LEVEL SECURITY;

--
-- Name: fly_rollout_targets; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.fly_rollout_targets ENABLE ROW LEVEL SECURITY;

--
-- Name: fly_rollouts; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.fly_rollouts ENABLE ROW LEVEL SECURITY;

--
-- Name: fly_sweep_runs; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.fly_sweep_runs ENABLE ROW LEVEL SECURITY;

--
-- Name: fly_plans signed-in users read plans; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "signed-in users read plans" ON public.fly_plans FOR SELECT TO authenticated USING (true);

--
-- Name: user_fly_app_events; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.user_fly_app_events ENABLE ROW LEVEL SECURITY;

--
-- Name: user_fly_app_overrides; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.user_fly_app_overrides ENABLE ROW LEVEL SECURITY;

--
-- Name: user_fly_app_usage_daily; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.user_fly_app_usage_daily ENABLE ROW LEVEL SECURITY;

--
-- Name: user_fly_apps; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.user_fly_apps ENABLE ROW LEVEL SECURITY;

--
-- Name: user_fly_volume_moves; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.user_fly_volume_moves ENABLE ROW LEVEL SECURITY;

--
-- Name: user_fly_volume_snapshots; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.user_fly_volume_snapshots ENABLE ROW LEVEL SECURITY;

--
-- Name: user_subscriptions; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.user_subscriptions ENABLE ROW LEVEL SECURITY;

--
-- Name: user_fly_apps users read their own fly app; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "users read their own fly app" ON public.user_fly_apps FOR SELECT TO authenticated USING ((user_id = ( SELECT auth.uid() AS uid)));

--
-- Name: user_fly_app_events users read their own fly app events; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "users read their own fly app events" ON public.user_fly_app_events FOR SELECT TO authenticated USING ((user_id = ( SELECT auth.uid() AS uid)));

--
-- Name: user_subscriptions users read their own subscription; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "users read their own subscription" ON public.user_subscriptions FOR SELECT TO authenticated USING ((user_id = ( SELECT auth.uid() AS uid)));

--
-- Name: user_fly_app_usage_daily users read their own usage; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "users read their own usage" ON public.user_fly_app_usage_daily FOR SELECT TO authenticated USING ((user_id = ( SELECT auth.uid() AS uid)));

--
-- Name: SCHEMA public; Type: ACL; Schema: -; Owner: pg_database_owner
--

GRANT USAGE ON SCHEMA public TO postgres;
GRANT USAGE ON SCHEMA public TO anon;
GRANT USAGE ON SCHEMA public TO authenticated;
GRANT USAGE ON SCHEMA public TO service_role;

--
-- Name: TABLE fly_rollouts; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.fly_rollouts TO service_role;

--
-- Name: TABLE user_fly_apps; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.user_fly_apps TO service_role;

--
-- Name: COLUMN user_fly_apps.id; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(id) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.user_id; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(user_id) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.fly_app_name; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(fly_app_name) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.status; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(status) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.region; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(region) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.docker_image; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(docker_image) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.cpu_count; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(cpu_count) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.memory_mb; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(memory_mb) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.machine_id; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(machine_id) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.health_status; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(health_status) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.last_health_check_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(last_health_check_at) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.error_message; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(error_message) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.retry_count; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(retry_count) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.deployed_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(deployed_at) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.deleted_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(deleted_at) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.monthly_cost_estimate_usd; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(monthly_cost_estimate_usd) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.created_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(created_at) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.updated_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(updated_at) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.desired_state; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(desired_state) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.desired_generation; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(desired_generation) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.observed_generation; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(observed_generation) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.next_attempt_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(next_attempt_at) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.image_digest; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(image_digest) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.cpu_kind; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(cpu_kind) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.drift; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(drift) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.last_machine_state; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(last_machine_state) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.last_observed_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(last_observed_at) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.held_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(held_at) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.in_sync; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(in_sync) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.delete_after; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(delete_after) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.volume_id; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(volume_id) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.credential_expires_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(credential_expires_at) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: COLUMN user_fly_apps.desired_tier; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(desired_tier) ON TABLE public.user_fly_apps TO authenticated;

--
-- Name: FUNCTION get_user_fly_app_status(p_user_id uuid); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.get_user_fly_app_status(p_user_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.get_user_fly_app_status(p_user_id uuid) TO authenticated;
GRANT ALL ON FUNCTION public.get_user_fly_app_status(p_user_id uuid) TO service_role;

--
-- Name: FUNCTION user_credential_revoked(); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.user_credential_revoked() FROM PUBLIC;
GRANT ALL ON FUNCTION public.user_credential_revoked() TO service_role;
GRANT ALL ON FUNCTION public.user_credential_revoked() TO authenticated;

--
-- Name: TABLE fly_plans; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.fly_plans TO service_role;
GRANT SELECT ON TABLE public.fly_plans TO authenticated;

--
-- Name: TABLE fly_prices; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.fly_prices TO service_role;

--
-- Name: TABLE fly_rollout_cohorts; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.fly_rollout_cohorts TO service_role;

--
-- Name: TABLE fly_rollout_events; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT,INSERT,REFERENCES,TRIGGER ON TABLE public.fly_rollout_events TO service_role;

--
-- Name: SEQUENCE fly_rollout_events_seq_seq; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON SEQUENCE public.fly_rollout_events_seq_seq TO service_role;

--
-- Name: TABLE fly_rollout_targets; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.fly_rollout_targets TO service_role;

--
-- Name: TABLE fly_sweep_runs; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.fly_sweep_runs TO service_role;

--
-- Name: SEQUENCE fly_sweep_runs_id_seq; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON SEQUENCE public.fly_sweep_runs_id_seq TO service_role;

--
-- Name: TABLE user_fly_app_events; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT,INSERT,REFERENCES,TRIGGER ON TABLE public.user_fly_app_events TO service_role;

--
-- Name: COLUMN user_fly_app_events.id; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(id) ON TABLE public.user_fly_app_events TO authenticated;

--
-- Name: COLUMN user_fly_app_events.fly_app_id; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(fly_app_id) ON TABLE public.user_fly_app_events TO authenticated;

--
-- Name: COLUMN user_fly_app_events.user_id; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(user_id) ON TABLE public.user_fly_app_events TO authenticated;

--
-- Name: COLUMN user_fly_app_events.event_type; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(event_type) ON TABLE public.user_fly_app_events TO authenticated;

--
-- Name: COLUMN user_fly_app_events.status; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(status) ON TABLE public.user_fly_app_events TO authenticated;

--
-- Name: COLUMN user_fly_app_events.created_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(created_at) ON TABLE public.user_fly_app_events TO authenticated;

--
-- Name: COLUMN user_fly_app_events.seq; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(seq) ON TABLE public.user_fly_app_events TO authenticated;

--
-- Name: SEQUENCE user_fly_app_events_seq_seq; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON SEQUENCE public.user_fly_app_events_seq_seq TO service_role;

--
-- Name: TABLE user_fly_app_overrides; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.user_fly_app_overrides TO service_role;

--
-- Name: TABLE user_fly_app_usage_daily; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.user_fly_app_usage_daily TO service_role;
GRANT SELECT ON TABLE public.user_fly_app_usage_daily TO authenticated;

--
-- Name: TABLE user_fly_volume_moves; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.user_fly_volume_moves TO service_role;

--
-- Name: SEQUENCE user_fly_volume_moves_id_seq; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON SEQUENCE public.user_fly_volume_moves_id_seq TO service_role;

--
-- Name: TABLE user_fly_volume_snapshots; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.user_fly_volume_snapshots TO service_role;

--
-- Name: SEQUENCE user_fly_volume_snapshots_id_seq; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON SEQUENCE public.user_fly_volume_snapshots_id_seq TO service_role;

--
-- Name: TABLE user_subscriptions; Type: ACL; Schema: public; Owner: postgres
--

GRANT ALL ON TABLE public.user_subscriptions TO service_role;
GRANT SELECT ON TABLE public.user_subscriptions TO authenticated;

--
-- Name: DEFAULT PRIVILEGES FOR SEQUENCES; Type: DEFAULT ACL; Schema: public; Owner: postgres
--

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES  TO service_role;

--
-- Name: DEFAULT PRIVILEGES FOR SEQUENCES; Type: DEFAULT ACL; Schema: public; Owner: supabase_admin
--

ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO postgres;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO service_role;

--
-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: public; Owner: postgres
--

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON FUNCTIONS  TO service_role;

--
-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: public; Owner: supabase_admin
--

ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO postgres;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO service_role;

--
-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: public; Owner: postgres
--

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES  TO service_role;

--
-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: public; Owner: supabase_admin
--

ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON TABLES  TO postgres;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON TABLES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON TABLES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON TABLES  TO service_role;

--
-- PostgreSQL database dump complete
--
