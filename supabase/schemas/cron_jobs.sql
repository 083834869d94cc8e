-- pg_cron schedules the migrations create (generated).

-- check-fly-apps-health
select cron.schedule('check-fly-apps-health', '* * * * *', 'select private.invoke_health_check()');

-- drain-tier-outbox
select cron.schedule('drain-tier-outbox', '* * * * *', 'select private.drain_tier_outbox()');

-- fly-kept-volumes-due
select cron.schedule('fly-kept-volumes-due', '*/5 * * * *', 'select private.make_expired_kept_volumes_due()');

-- purge-cron-job-run-details
select cron.schedule('purge-cron-job-run-details', '17 3 * * *', 'delete from cron.job_run_details where end_time < now() - interval ''7 days''');
