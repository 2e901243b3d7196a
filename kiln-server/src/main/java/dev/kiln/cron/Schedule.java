package dev.kiln.cron;

import dev.kiln.api.CronJob;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.Locale;

/**
 * When a job is called next, Odoo's {@code _reschedule_later}: its next call moves forward by whole
 * intervals until it is after now, so runs missed while no runner was up are skipped, not replayed.
 * Minutes and hours are fixed durations; days, weeks and months follow the calendar of the job's
 * time zone, so a daily job at 02:00 local time stays at 02:00 across a DST change.
 */
public record Schedule(int number, CronJob.Unit unit, ZoneId zone) {

    public Schedule {
        if (number < 1) {
            throw new IllegalArgumentException("interval must be at least 1, not " + number);
        }
    }

    /** {@code interval_type} as stored: {@code minutes}, {@code hours}, {@code days}, {@code weeks}, {@code months}. */
    public static Schedule of(int number, String unit, String zone) {
        return new Schedule(number, CronJob.Unit.valueOf(unit.toUpperCase(Locale.ROOT)), ZoneId.of(zone));
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
        // a first guess by the mean length of the unit, then whole steps: never a long loop
        long guess = Math.max(0, Duration.between(nextcall, now).toDays() / approximateDays() - 1);
        ZonedDateTime at = plus(base, guess);
        for (long k = guess; !at.toInstant().isAfter(now); ) {
            at = plus(base, ++k);
        }
        return at.toInstant();
    }

    /** {@code base} + {@code k} intervals, counted from {@code base} so a month end does not drift. */
    private ZonedDateTime plus(ZonedDateTime base, long k) {
        long amount = k * number;
        return switch (unit) {
            case DAYS -> base.plusDays(amount);
            case WEEKS -> base.plusWeeks(amount);
            case MONTHS -> base.plusMonths(amount);
            default -> throw new IllegalStateException(unit.name());
        };
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
