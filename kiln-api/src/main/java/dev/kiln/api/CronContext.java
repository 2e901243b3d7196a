package dev.kiln.api;

/**
 * What a running cron job gets: its database and transaction ({@link Env}), its name, and a way to
 * report progress on a batch. A job that reports work remaining ({@code done > 0, remaining > 0}) is
 * called again as soon as a runner is free, before its interval; one that reports nothing done while
 * work remains waits for its next interval instead of looping.
 *
 * <p>A job that fails 5 times in a row over at least 7 days is deactivated (Odoo's rule).
 */
public interface CronContext extends Env {

    /** The job's full name, {@code <addon>.<name>}. */
    String job();

    /** The job's id in the database. */
    long jobId();

    /** Reports how much of the batch this call did and how much is left; the last report counts. */
    void progress(int done, int remaining);
}
