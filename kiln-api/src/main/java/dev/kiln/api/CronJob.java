package dev.kiln.api;

import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Objects;

/**
 * A scheduled job an addon declares in {@link Addon#register}, Odoo's {@code ir.cron}:
 *
 * <pre>{@code
 * context.cron(CronJob.every(1, CronJob.Unit.DAYS, "vacuum", this::vacuum).priority(3));
 * }</pre>
 *
 * Installing the addon in a database creates the job there as {@code <addon>.<name>}; updating the
 * addon applies the declaration again (its next call is kept). The job runs in its own transaction,
 * at most once at a time across every Kiln process on the database, then its next call moves
 * forward by whole intervals until it is in the future: runs missed while no runner was up are
 * skipped, not replayed. Values are checked when declared: a bad one stops the start naming the job.
 */
public final class CronJob {

    /** The unit of a job's interval. Months and days follow the calendar of the job's time zone. */
    public enum Unit { MINUTES, HOURS, DAYS, WEEKS, MONTHS }

    /** Odoo's default priority; 0 runs first, 10 last. */
    public static final int DEFAULT_PRIORITY = 5;

    private final String name;
    private final int intervalNumber;
    private final Unit intervalUnit;
    private final CronTask task;
    private final int priority;
    private final boolean active;
    private final Instant firstCall;
    private final ZoneId zone;

    private CronJob(String name, int intervalNumber, Unit intervalUnit, CronTask task, int priority, boolean active,
                    Instant firstCall, ZoneId zone) {
        this.name = name;
        this.intervalNumber = intervalNumber;
        this.intervalUnit = intervalUnit;
        this.task = task;
        this.priority = priority;
        this.active = active;
        this.firstCall = firstCall;
        this.zone = zone;
    }

    /**
     * A job called every {@code number} {@code unit}s, active, priority {@value #DEFAULT_PRIORITY},
     * first called when installed, in UTC.
     *
     * @param name letters, digits and underscores; unique within the addon
     */
    public static CronJob every(int number, Unit unit, String name, CronTask task) {
        Objects.requireNonNull(unit, "unit");
        Objects.requireNonNull(task, "task");
        if (name == null || !name.matches("[A-Za-z0-9_]+")) {
            throw new IllegalArgumentException("cron job name \"" + name + "\": use letters, digits and underscores");
        }
        if (number < 1) {
            throw new IllegalArgumentException("cron job " + name + ": the interval must be at least 1, not " + number);
        }
        return new CronJob(name, number, unit, task, DEFAULT_PRIORITY, true, null, ZoneOffset.UTC);
    }

    /** 0 (first) to 10 (last) among the jobs due at the same time. */
    public CronJob priority(int priority) {
        if (priority < 0 || priority > 10) {
            throw new IllegalArgumentException("cron job " + name + ": priority must be 0 to 10, not " + priority);
        }
        return new CronJob(name, intervalNumber, intervalUnit, task, priority, active, firstCall, zone);
    }

    /** Declared inactive: it runs only when asked ({@code kiln cron run}) until activated. */
    public CronJob inactive() {
        return new CronJob(name, intervalNumber, intervalUnit, task, priority, false, firstCall, zone);
    }

    /** The first call; by default, as soon as the addon is installed. */
    public CronJob firstCall(Instant at) {
        return new CronJob(name, intervalNumber, intervalUnit, task, priority, active, Objects.requireNonNull(at), zone);
    }

    /** The time zone whose calendar the intervals follow (a daily job at 02:00 stays at 02:00 across DST). */
    public CronJob zone(ZoneId zone) {
        return new CronJob(name, intervalNumber, intervalUnit, task, priority, active, firstCall, Objects.requireNonNull(zone));
    }

    public String name() {
        return name;
    }

    public int intervalNumber() {
        return intervalNumber;
    }

    public Unit intervalUnit() {
        return intervalUnit;
    }

    public CronTask task() {
        return task;
    }

    public int priority() {
        return priority;
    }

    public boolean active() {
        return active;
    }

    /** The declared first call, or null for "when installed". */
    public Instant firstCall() {
        return firstCall;
    }

    public ZoneId zone() {
        return zone;
    }
}
