-- pg_cron schedules the migrations create (generated).

-- check-fly-apps-health
select cron.schedule('check-fly-apps-health', '* * * * *', 'select private.invoke_health_check()');

-- drain-tier-outbox
select cron.schedule('drain-tier-outbox', '* * * * *', 'select private.drain_tier_outbox()');

-- purge-cron-job-run-details
select cron.schedule('purge-cron-job-run-details', '17 3 * * *', 'delete from cron.job_run_details where end_time < now() - interval ''7 days''');
