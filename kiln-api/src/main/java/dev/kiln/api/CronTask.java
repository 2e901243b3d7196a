package dev.kiln.api;

/** The code of a {@link CronJob}. */
@FunctionalInterface
public interface CronTask {

    /**
     * Runs one call of the job in {@code context}'s transaction: committed when this returns,
     * rolled back when it throws (the failure is counted against the job, see {@link CronContext}).
     * A serialization failure or deadlock runs it again, so it must not act outside the database.
     * It should return when its thread is interrupted: that is how a job over
     * {@code limit_time_real_cron} is asked to stop.
     */
    void run(CronContext context) throws Exception;
}
