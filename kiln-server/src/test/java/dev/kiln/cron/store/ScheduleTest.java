package dev.kiln.cron.store;

import dev.kiln.api.CronJob.Unit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.DateTimeException;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** When a job is called next: whole intervals, missed runs skipped, the calendar of the job's zone. */
class ScheduleTest {

    private static final ZoneId UTC = ZoneOffset.UTC;
    private static final ZoneId BRUSSELS = ZoneId.of("Europe/Brussels");

    private static Instant at(String utc) {
        return Instant.parse(utc);
    }

    /** A local time in Brussels, resolved as java.time does (a gap moves forward, an overlap takes the earlier offset). */
    private static Instant brussels(String local) {
        return LocalDateTime.parse(local).atZone(BRUSSELS).toInstant();
    }

    private static ZonedDateTime inBrussels(Instant instant) {
        return instant.atZone(BRUSSELS);
    }

    @Test
    void minutesSkipMissedRunsByWholeIntervalsOnTheOriginalGrid() {
        Schedule every15 = new Schedule(15, Unit.MINUTES, UTC);
        // grid 10:05, 10:20, ..., 13:35, 13:50: the first instant after now, not now + 15 min
        assertThat(every15.next(at("2026-01-01T10:05:00Z"), at("2026-01-01T13:47:12Z")))
                .isEqualTo(at("2026-01-01T13:50:00Z"));
        // one interval late by a second: the next point of the grid
        assertThat(every15.next(at("2026-01-01T10:05:00Z"), at("2026-01-01T10:05:01Z")))
                .isEqualTo(at("2026-01-01T10:20:00Z"));
        // due exactly now: strictly after now
        assertThat(every15.next(at("2026-01-01T10:05:00Z"), at("2026-01-01T10:05:00Z")))
                .isEqualTo(at("2026-01-01T10:20:00Z"));
        // now exactly on a later point of the grid: the one after it
        assertThat(every15.next(at("2026-01-01T10:05:00Z"), at("2026-01-01T11:05:00Z")))
                .isEqualTo(at("2026-01-01T11:20:00Z"));
    }

    @Test
    void hoursSkipMissedRunsByWholeIntervalsOnTheOriginalGrid() {
        Schedule every2h = new Schedule(2, Unit.HOURS, UTC);
        // grid at odd hours and a half: 01:30, 03:30, ... two days later 07:30, 09:30
        assertThat(every2h.next(at("2026-01-01T01:30:00Z"), at("2026-01-03T08:00:00Z")))
                .isEqualTo(at("2026-01-03T09:30:00Z"));
        assertThat(every2h.next(at("2026-01-01T01:30:00Z"), at("2026-01-03T07:30:00Z")))
                .isEqualTo(at("2026-01-03T09:30:00Z"));
    }

    @Test
    void hoursAreFixedDurationsEvenInAZoneWithDst() {
        // 24 hours is not "a day": across the March change the local time moves by the hour lost
        Schedule every24h = new Schedule(24, Unit.HOURS, BRUSSELS);
        Instant next = every24h.next(brussels("2026-03-28T12:00"), brussels("2026-03-28T12:00:01"));
        assertThat(next).isEqualTo(brussels("2026-03-28T12:00").plusSeconds(24 * 3600));
        assertThat(inBrussels(next).toLocalTime()).isEqualTo(LocalTime.of(13, 0));
    }

    @Test
    void aNextCallAlreadyInTheFutureIsKept() {
        Instant now = at("2026-06-15T12:00:00Z");
        Instant future = at("2026-06-15T12:00:00.000001Z");
        for (Unit unit : Unit.values()) {
            assertThat(new Schedule(1, unit, BRUSSELS).next(future, now)).as(unit.name()).isEqualTo(future);
            assertThat(new Schedule(3, unit, UTC).next(at("2030-01-01T00:00:00Z"), now)).as(unit.name())
                    .isEqualTo(at("2030-01-01T00:00:00Z"));
        }
    }

    @Test
    void daysKeepTheLocalWallTimeAcrossTheMarchChange() {
        // Brussels: 2026-03-29 02:00 CET -> 03:00 CEST; 02:30 does not exist that day
        Schedule daily = new Schedule(1, Unit.DAYS, BRUSSELS);
        Instant base = brussels("2026-03-27T02:30");
        assertThat(base).isEqualTo(at("2026-03-27T01:30:00Z"));

        // the day before the change: 02:30 CET
        assertThat(daily.next(base, at("2026-03-27T12:00:00Z"))).isEqualTo(at("2026-03-28T01:30:00Z"));
        // the day of the change: java.time moves a time in the gap forward by the gap's length, 03:30 CEST
        Instant onTheDay = daily.next(base, at("2026-03-28T12:00:00Z"));
        assertThat(onTheDay).isEqualTo(at("2026-03-29T01:30:00Z"));
        assertThat(inBrussels(onTheDay).toLocalTime()).isEqualTo(LocalTime.of(3, 30));
        // the day after, counted from the same base: 02:30 again, now CEST (00:30 UTC, not 01:30)
        Instant after = daily.next(base, at("2026-03-29T12:00:00Z"));
        assertThat(after).isEqualTo(at("2026-03-30T00:30:00Z"));
        assertThat(inBrussels(after).toLocalTime()).isEqualTo(LocalTime.of(2, 30));
        // months later in summer time, still 02:30 local
        Instant summer = daily.next(brussels("2026-01-10T02:30"), at("2026-07-01T12:00:00Z"));
        assertThat(summer).isEqualTo(at("2026-07-02T00:30:00Z"));
    }

    @Test
    void daysKeepTheLocalWallTimeAcrossTheOctoberChangeAndRunOnceInTheRepeatedHour() {
        // Brussels: 2026-10-25 03:00 CEST -> 02:00 CET; 02:30 happens twice that day
        Schedule daily = new Schedule(1, Unit.DAYS, BRUSSELS);
        Instant base = brussels("2026-10-23T02:30");
        assertThat(base).isEqualTo(at("2026-10-23T00:30:00Z"));

        // the day of the change: the earlier offset is kept (02:30 CEST, the first of the two)
        Instant onTheDay = daily.next(base, at("2026-10-24T12:00:00Z"));
        assertThat(onTheDay).isEqualTo(at("2026-10-25T00:30:00Z"));
        // run at it: the next call is the next day, not the second 02:30 an hour later
        Instant next = daily.next(onTheDay, onTheDay.plusSeconds(1));
        assertThat(next).isEqualTo(at("2026-10-26T01:30:00Z"));
        assertThat(inBrussels(next).toLocalTime()).isEqualTo(LocalTime.of(2, 30));
        // a backlog across the change: 02:30 CET
        assertThat(daily.next(brussels("2026-10-20T02:30"), at("2026-10-28T00:00:00Z")))
                .isEqualTo(at("2026-10-28T01:30:00Z"));
    }

    @Test
    void aDailyJobInTheMarchGapComesBackToItsWallTimeOnceCalledAsTheRunnerDoes() {
        // The runner reschedules from the nextcall it claimed (CronStore.finish: next(job.nextcall(), claim time)),
        // so the instant stored after the call on the day of the change is the base of every later call;
        // it also records the job's wall time at its first call (kiln_cron.wall_time), read back with the job.
        Schedule daily = new Schedule(1, Unit.DAYS, BRUSSELS);
        Instant nextcall = brussels("2026-03-27T02:30");
        List<LocalTime> times = new ArrayList<>();
        for (int day = 0; day < 6; day++) {
            times.add(inBrussels(nextcall).toLocalTime());
            daily = new Schedule(1, Unit.DAYS, BRUSSELS, daily.wallTimeOf(nextcall));
            nextcall = daily.next(nextcall, nextcall.plusSeconds(60));   // called on time, done a minute later
        }
        // 27, 28: 02:30; 29: the gap (03:30); 30, 31, 1 April: 02:30 again
        assertThat(times).containsExactly(LocalTime.of(2, 30), LocalTime.of(2, 30), LocalTime.of(3, 30),
                LocalTime.of(2, 30), LocalTime.of(2, 30), LocalTime.of(2, 30));
    }

    @Test
    void monthsFromJanuary31EndOnTheLastDayOfFebruaryAndStayAlignedOnTheBase() {
        Schedule monthly = new Schedule(1, Unit.MONTHS, UTC);
        assertThat(monthly.next(at("2027-01-31T09:00:00Z"), at("2027-02-10T00:00:00Z")))
                .isEqualTo(at("2027-02-28T09:00:00Z"));
        assertThat(monthly.next(at("2028-01-31T09:00:00Z"), at("2028-02-10T00:00:00Z")))
                .isEqualTo(at("2028-02-29T09:00:00Z"));          // leap year
        // counted from the base, not month by month: March 31, not March 28
        assertThat(monthly.next(at("2027-01-31T09:00:00Z"), at("2027-03-05T00:00:00Z")))
                .isEqualTo(at("2027-03-31T09:00:00Z"));
        assertThat(monthly.next(at("2027-01-31T09:00:00Z"), at("2027-04-15T00:00:00Z")))
                .isEqualTo(at("2027-04-30T09:00:00Z"));
        // decades of backlog, still on the base's day (or the month's last)
        assertThat(monthly.next(at("2000-01-31T09:00:00Z"), at("2027-06-01T00:00:00Z")))
                .isEqualTo(at("2027-06-30T09:00:00Z"));
        // every 3 months
        assertThat(new Schedule(3, Unit.MONTHS, UTC).next(at("2027-01-31T09:00:00Z"), at("2027-02-01T00:00:00Z")))
                .isEqualTo(at("2027-04-30T09:00:00Z"));
    }

    @Test
    void monthsFollowTheCalendarOfTheJobsZone() {
        // midnight of January 31 in Brussels is January 30 in UTC: the month is Brussels'
        Instant base = brussels("2026-01-31T00:00");
        assertThat(new Schedule(1, Unit.MONTHS, BRUSSELS).next(base, at("2026-05-01T00:00:00Z")))
                .isEqualTo(brussels("2026-05-31T00:00")).isEqualTo(at("2026-05-30T22:00:00Z"));
        assertThat(new Schedule(1, Unit.MONTHS, UTC).next(base, at("2026-05-01T00:00:00Z")))
                .isEqualTo(at("2026-05-30T23:00:00Z"));
    }

    @Test
    void weeksStepByWholeWeeksAndKeepTheWeekdayAndLocalTime() {
        Schedule fortnightly = new Schedule(2, Unit.WEEKS, UTC);
        // Mondays Jan 5, 19, Feb 2, 16, Mar 2, 16
        assertThat(fortnightly.next(at("2026-01-05T06:00:00Z"), at("2026-03-04T00:00:00Z")))
                .isEqualTo(at("2026-03-16T06:00:00Z"));
        Instant weekly = new Schedule(1, Unit.WEEKS, BRUSSELS)
                .next(brussels("2026-03-16T08:00"), at("2026-04-01T00:00:00Z"));
        assertThat(inBrussels(weekly).toLocalDateTime()).isEqualTo(LocalDateTime.parse("2026-04-06T08:00"));
        assertThat(weekly).isEqualTo(at("2026-04-06T06:00:00Z"));
    }

    @Test
    @Timeout(30)   // a safety net only: one step per interval would never end on these backlogs
    void aBacklogOfAgesIsComputedWithoutStepping() {
        Instant now = at("2026-11-26T18:50:30.5Z");
        // about 5e10 minutes
        assertThat(new Schedule(1, Unit.MINUTES, UTC).next(at("-100000-01-01T00:00:00Z"), now))
                .isEqualTo(at("2026-11-26T18:51:00Z"));
        assertThat(new Schedule(7, Unit.MINUTES, UTC).next(at("1970-01-01T00:00:00Z"), now))
                .isEqualTo(nextOnGrid(at("1970-01-01T00:00:00Z"), now, 7 * 60));
        assertThat(new Schedule(1, Unit.HOURS, UTC).next(at("-100000-01-01T00:30:00Z"), now))
                .isEqualTo(at("2026-11-26T19:30:00Z"));
        assertThat(new Schedule(1, Unit.DAYS, UTC).next(at("-100000-01-01T04:00:00Z"), now))
                .isEqualTo(at("2026-11-27T04:00:00Z"));
        assertThat(new Schedule(1, Unit.DAYS, BRUSSELS).next(brussels("1990-06-01T02:30"), now))
                .isEqualTo(brussels("2026-11-27T02:30"));
        assertThat(new Schedule(1, Unit.MONTHS, UTC).next(at("1000-01-31T00:00:00Z"), now))
                .isEqualTo(at("2026-11-30T00:00:00Z"));
        assertThat(new Schedule(1, Unit.WEEKS, UTC).next(at("2000-01-03T12:00:00Z"), now))   // a Monday
                .isEqualTo(at("2026-11-30T12:00:00Z"));
    }

    /** The first of base + k * seconds after now, by plain arithmetic. */
    private static Instant nextOnGrid(Instant base, Instant now, long seconds) {
        long elapsed = now.getEpochSecond() - base.getEpochSecond();
        return base.plusSeconds((elapsed / seconds + 1) * seconds);
    }

    @Test
    void theStoredIntervalTypeIsParsed() {
        assertThat(Schedule.of(3, "days", "Europe/Brussels")).isEqualTo(new Schedule(3, Unit.DAYS, BRUSSELS));
        assertThat(Schedule.of(1, "minutes", "UTC").unit()).isEqualTo(Unit.MINUTES);
        assertThat(Schedule.of(1, "hours", "UTC").unit()).isEqualTo(Unit.HOURS);
        assertThat(Schedule.of(1, "weeks", "UTC").unit()).isEqualTo(Unit.WEEKS);
        assertThat(Schedule.of(2, "months", "UTC").number()).isEqualTo(2);
        assertThat(Schedule.of(1, "months", "UTC").zone()).isEqualTo(ZoneId.of("UTC"));
        for (Unit unit : Unit.values()) {
            assertThat(Schedule.of(1, Schedule.unitName(unit), "UTC").unit()).isEqualTo(unit);
        }
        assertThat(Schedule.unitName(Unit.DAYS)).isEqualTo("days");
    }

    @Test
    void anInvalidIntervalIsRejected() {
        assertThatThrownBy(() -> Schedule.of(0, "days", "UTC")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("interval must be at least 1, not 0");
        assertThatThrownBy(() -> new Schedule(-2, Unit.HOURS, UTC)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-2");
        assertThatThrownBy(() -> Schedule.of(1, "fortnights", "UTC")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("FORTNIGHTS");
        assertThatThrownBy(() -> Schedule.of(1, "days", "Europe/Nowhere")).isInstanceOf(DateTimeException.class);
    }

    @Test
    void theDatesUsedAboveAreTheDstChangesOfBrussels() {
        // guards the fixtures: the March gap and the October overlap fall on these days in 2026
        assertThat(BRUSSELS.getRules().isValidOffset(LocalDateTime.parse("2026-03-29T02:30"), ZoneOffset.ofHours(1)))
                .isFalse();
        assertThat(BRUSSELS.getRules().getValidOffsets(LocalDateTime.parse("2026-03-29T02:30"))).isEmpty();
        assertThat(BRUSSELS.getRules().getValidOffsets(LocalDateTime.parse("2026-10-25T02:30"))).hasSize(2);
        assertThat(LocalDate.parse("2026-03-29").getDayOfWeek()).isEqualTo(DayOfWeek.SUNDAY);
    }
}
