package dev.kiln.cron.store;

import dev.kiln.api.CronJob;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.Locale;

/**
 * When a job is called next, Odoo's {@code _reschedule_later}: its next call moves forward by whole
 * intervals until it is after now, so runs missed while no runner was up are skipped, not replayed.
 * Minutes and hours are fixed durations; days, weeks and months follow the calendar of the job's
 * time zone and keep the job's wall time, so a daily job at 02:30 local time stays at 02:30 across
 * DST changes; on the night the clocks skip 02:00–03:00 it runs at 03:30, and at 02:30 again the
 * next day. As in Odoo, each next call is counted from the stored one, so a monthly job first
 * called on the 31st runs on the 28th from February on.
 */
public record Schedule(int number, CronJob.Unit unit, ZoneId zone, LocalTime wallTime) {

    /**
     * @param wallTime the local time of day the job keeps for days, weeks and months (null: the
     *                 local time of the next call it is given)
     */
    public Schedule {
        if (number < 1) {
            throw new IllegalArgumentException("interval must be at least 1, not " + number);
        }
    }

    public Schedule(int number, CronJob.Unit unit, ZoneId zone) {
        this(number, unit, zone, null);
    }

    /** {@code interval_type} as stored: {@code minutes}, {@code hours}, {@code days}, {@code weeks}, {@code months}. */
    public static Schedule of(int number, String unit, String zone) {
        return of(number, unit, zone, null);
    }

    /** As stored, with the wall time recorded at the job's first call (or null). */
    public static Schedule of(int number, String unit, String zone, LocalTime wallTime) {
        return new Schedule(number, CronJob.Unit.valueOf(unit.toUpperCase(Locale.ROOT)), ZoneId.of(zone), wallTime);
    }

    /** Whether the interval follows the calendar (days, weeks, months) rather than the clock. */
    public boolean calendar() {
        return unit == CronJob.Unit.DAYS || unit == CronJob.Unit.WEEKS || unit == CronJob.Unit.MONTHS;
    }

    /** The wall time the job keeps: the one recorded, else {@code nextcall}'s; null for minutes and hours. */
    public LocalTime wallTimeOf(Instant nextcall) {
        return !calendar() ? null : wallTime != null ? wallTime : nextcall.atZone(zone).toLocalTime();
    }

    public static String unitName(CronJob.Unit unit) {
        return unit.name().toLowerCase(Locale.ROOT);
    }

    /** The first of {@code nextcall}, {@code nextcall} + k intervals that is after {@code now}. */
    public Instant next(Instant nextcall, Instant now) {
        if (nextcall.isAfter(now)) {
            return nextcall;
        }
        return switch (unit) {
            case MINUTES -> fixed(nextcall, now, Duration.ofMinutes(number));
            case HOURS -> fixed(nextcall, now, Duration.ofHours(number));
            case DAYS, WEEKS, MONTHS -> calendar(nextcall, now);
        };
    }

    private static Instant fixed(Instant nextcall, Instant now, Duration step) {
        long steps = Duration.between(nextcall, now).dividedBy(step) + 1;
        return nextcall.plus(step.multipliedBy(steps));
    }

    private Instant calendar(Instant nextcall, Instant now) {
        ZonedDateTime base = nextcall.atZone(zone);
        LocalTime wall = wallTimeOf(nextcall);
        // a first guess by the mean length of the unit, then whole steps: never a long loop
        long guess = Math.max(0, Duration.between(nextcall, now).toDays() / approximateDays() - 1);
        ZonedDateTime at = plus(base, guess, wall);
        for (long k = guess; !at.toInstant().isAfter(now); ) {
            at = plus(base, ++k, wall);
        }
        return at.toInstant();
    }

    /** {@code base} + {@code k} intervals, counted from {@code base} (not step by step) within one computation. */
    private ZonedDateTime plus(ZonedDateTime base, long k, LocalTime wall) {
        long amount = k * number;
        LocalDate day = switch (unit) {
            case DAYS -> base.toLocalDate().plusDays(amount);
            case WEEKS -> base.toLocalDate().plusWeeks(amount);
            case MONTHS -> base.toLocalDate().plusMonths(amount);
            default -> throw new IllegalStateException(unit.name());
        };
        return ZonedDateTime.of(day, wall, zone);      // a time in the spring gap moves forward by the gap
    }

    private long approximateDays() {
        return switch (unit) {
            case DAYS -> number;
            case WEEKS -> 7L * number;
            case MONTHS -> 31L * number;
            default -> throw new IllegalStateException(unit.name());
        };
    }
}
