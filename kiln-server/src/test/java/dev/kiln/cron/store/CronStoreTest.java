package dev.kiln.cron.store;

import dev.kiln.addons.AddonLoader;
import dev.kiln.addons.CronSpec;
import dev.kiln.api.CronJob.Unit;
import dev.kiln.api.CronJob;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.Isolation;
import dev.kiln.db.ScratchDatabase;
import dev.kiln.registry.AddonInstaller;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The SQL of the cron processor against a real PostgreSQL: the ready list, the claim with SKIP LOCKED,
 * the start check, the completion mark that survives a runner dying before its reschedule, the
 * failure record, triggers and the jobs addons declare. The connections are the runner's: the claim
 * one READ COMMITTED, the job one REPEATABLE READ, both with autocommit off.
 */
class CronStoreTest {

    static ScratchDatabase scratch;
    static ConnectionPools pools;
    static String db;

    @BeforeAll
    static void createDatabase() throws SQLException {
        scratch = ScratchDatabase.create("cronstore", 10);
        pools = scratch.pools();
        db = scratch.name();
        new AddonInstaller(AddonLoader.discover(List.of()), pools).prepare(db);
        update("CREATE TABLE cron_effect (job bigint NOT NULL)");
    }

    @AfterAll
    static void dropDatabase() {
        if (scratch != null) {
            scratch.close();
        }
    }

    @BeforeEach
    void noJobs() throws SQLException {
        update("TRUNCATE kiln_cron, kiln_cron_trigger, kiln_cron_progress, cron_effect RESTART IDENTITY CASCADE");
    }

    // ---- the ready list ----

    @Test
    void readyJobsAreListedByFailuresThenPriorityThenIdWithoutInactiveOrFutureOnes() throws SQLException {
        Instant now = now();
        long a = job("a", now.minus(1, ChronoUnit.HOURS), 0);
        long b = job("b", now.minus(1, ChronoUnit.HOURS), 5);
        long c = job("c", now.minus(1, ChronoUnit.HOURS), 1);
        long d = job("d", now.minus(2, ChronoUnit.HOURS), 1);
        long inactive = job("inactive", now.minus(1, ChronoUnit.HOURS), 0);
        long future = job("future", now.plus(1, ChronoUnit.HOURS), 0);
        long laterTrigger = job("later_trigger", now.plus(1, ChronoUnit.HOURS), 0);
        long inactiveTriggered = job("inactive_triggered", now.plus(1, ChronoUnit.HOURS), 0);
        update("UPDATE kiln_cron SET failure_count = 1, first_failure_date = now() WHERE id = ?", a);
        update("UPDATE kiln_cron SET active = false WHERE id IN (?, ?)", inactive, inactiveTriggered);
        update("INSERT INTO kiln_cron_trigger (cron_id, call_at) VALUES (?, now() + interval '30 minutes')", laterTrigger);
        update("INSERT INTO kiln_cron_trigger (cron_id, call_at) VALUES (?, now() - interval '1 minute')", inactiveTriggered);

        assertThat(ready()).containsExactly(c, d, b, a);

        // a due trigger makes a job of the future ready, in its place by priority
        update("INSERT INTO kiln_cron_trigger (cron_id, call_at) VALUES (?, now() - interval '1 second')", future);
        assertThat(ready()).containsExactly(future, c, d, b, a);
        assertThat(ready()).doesNotContain(inactive, laterTrigger, inactiveTriggered);
    }

    @Test
    void theNextDueTimeIsTheEarliestActiveNextCallOrTriggerOfAnActiveJob() throws SQLException {
        try (Connection claim = claim()) {
            assertThat(CronStore.nextDue(claim)).isNull();
            claim.rollback();
        }
        Instant now = now();
        long soon = job("soon", now.plus(2, ChronoUnit.HOURS), 5);
        job("later", now.plus(3, ChronoUnit.HOURS), 5);
        long inactive = job("inactive", now.plus(10, ChronoUnit.MINUTES), 5);
        update("UPDATE kiln_cron SET active = false WHERE id = ?", inactive);
        update("INSERT INTO kiln_cron_trigger (cron_id, call_at) VALUES (?, ?)", inactive, ts(now.plus(5, ChronoUnit.MINUTES)));
        try (Connection claim = claim()) {
            assertThat(CronStore.nextDue(claim)).isEqualTo(now.plus(2, ChronoUnit.HOURS));
            claim.rollback();
        }
        update("INSERT INTO kiln_cron_trigger (cron_id, call_at) VALUES (?, ?)", soon, ts(now.plus(30, ChronoUnit.MINUTES)));
        try (Connection claim = claim()) {
            assertThat(CronStore.nextDue(claim)).isEqualTo(now.plus(30, ChronoUnit.MINUTES));
            claim.rollback();
        }
    }

    // ---- the claim ----

    @Test
    void theRescheduleCommitsAndClaimsTheNextJobOfTheWindowInOneGo() throws SQLException {
        Instant nextcall = now().minus(1, ChronoUnit.HOURS);
        long x = job("pipe_x", nextcall, 1);
        long y = job("pipe_y", nextcall, 2);
        long z = job("pipe_z", nextcall, 3);
        try (Connection a = claim(); Connection b = claim(); Connection c = claim()) {
            CronStore.Claimed first = CronStore.acquire(a, List.of(x, y, z));
            assertThat(first.id()).isEqualTo(x);
            CronStore.Claimed held = CronStore.acquire(b, List.of(y));
            assertThat(held.id()).isEqualTo(y);

            CronStore.Finished finished = CronStore.finishAndAcquire(a, first, first.now(), false, false, List.of(y, z));
            assertThat(finished.active()).isTrue();
            assertThat(finished.next().id()).as("y is held by another runner: z").isEqualTo(z);
            assertThat(finished.next().now()).as("a transaction of its own").isAfterOrEqualTo(first.now());
            // x's reschedule is committed (seen from outside), z is locked by a's new transaction
            assertThat(instant("SELECT nextcall FROM kiln_cron WHERE id = ?", x)).isAfter(Instant.now());
            assertThat(CronStore.acquire(c, List.of(z))).as("z is claimed").isNull();
            c.rollback();

            CronStore.Finished last = CronStore.finishAndAcquire(a, finished.next(), finished.next().now(), false, false, List.of(y));
            assertThat(last.next()).as("nothing free in the window: no claim, no transaction left open").isNull();
            assertThat(CronStore.acquire(c, List.of(z))).as("z rescheduled, not ready any more").isNull();
            c.rollback();
            b.rollback();
            assertThat(CronStore.acquire(c, List.of(x, y, z)).id()).as("y free again").isEqualTo(y);
            c.rollback();
        }
        assertThat(instant("SELECT nextcall FROM kiln_cron WHERE id = ?", z)).isAfter(Instant.now());
    }

    @Test
    void twoRunnersClaimingFromTheSameListSkipEachOthersLocks() throws SQLException {
        Instant nextcall = now().minus(1, ChronoUnit.HOURS);
        long x = job("x", nextcall, 1);
        long y = job("y", nextcall, 2);
        try (Connection a = claim(); Connection b = claim(); Connection c = claim()) {
            List<Long> listA = CronStore.readyIds(a);
            a.commit();
            List<Long> listB = CronStore.readyIds(b);
            b.commit();
            assertThat(listA).isEqualTo(listB).containsExactly(x, y);

            CronStore.Claimed byA = CronStore.acquire(a, listA);
            assertThat(byA.id()).isEqualTo(x);
            assertThat(byA.name()).isEqualTo("x");
            assertThat(byA.code()).isEqualTo("test.x");
            assertThat(byA.schedule()).isEqualTo(new Schedule(1, Unit.HOURS, ZoneId.of("UTC")));
            assertThat(byA.nextcall()).isEqualTo(nextcall);
            assertThat(byA.failureCount()).isZero();
            assertThat(byA.firstFailure()).isNull();
            assertThat(byA.now()).isCloseTo(Instant.now(), within(30, ChronoUnit.SECONDS));

            CronStore.Claimed byB = CronStore.acquire(b, listB);
            assertThat(byB.id()).as("x is locked by A: B takes the next one").isEqualTo(y);
            assertThat(CronStore.acquire(b, List.of(x))).as("a job locked by another runner").isNull();
            assertThat(CronStore.acquire(c, List.of(x, y))).as("both locked").isNull();
            c.rollback();

            assertThat(CronStore.finish(a, byA, byA.now(), false, false)).isTrue();
            a.commit();
            // B still holds y: x is rescheduled and no longer ready, y is still ready but locked
            assertThat(CronStore.readyIds(c)).containsExactly(y);
            assertThat(CronStore.acquire(c, List.of(x, y))).isNull();
            c.rollback();

            CronStore.finish(b, byB, byB.now(), false, false);
            b.commit();
            assertThat(CronStore.readyIds(c)).isEmpty();
            assertThat(CronStore.acquire(c, List.of(x, y))).as("not locked, but not ready either").isNull();
            c.rollback();
        }
        assertThat(instant("SELECT nextcall FROM kiln_cron WHERE id = ?", x)).isAfter(Instant.now());
        assertThat(instant("SELECT nextcall FROM kiln_cron WHERE id = ?", y)).isAfter(Instant.now());
    }

    @Test
    void runnersDrainingTheSameListConcurrentlyCallEachJobOnce() throws Exception {
        Instant nextcall = now().minus(1, ChronoUnit.HOURS);
        List<Long> all = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            all.add(job("j" + i, nextcall, i % 3));
        }
        int runners = 3;
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(runners);
        try {
            List<Future<List<Long>>> claimed = new ArrayList<>();
            for (int r = 0; r < runners; r++) {
                claimed.add(pool.submit(() -> {
                    List<Long> mine = new ArrayList<>();
                    try (Connection claim = claim()) {
                        List<Long> list = CronStore.readyIds(claim);
                        claim.commit();
                        go.await();
                        for (CronStore.Claimed job; (job = CronStore.acquire(claim, list)) != null; ) {
                            mine.add(job.id());
                            CronStore.finish(claim, job, job.now(), false, false);
                            claim.commit();
                        }
                        claim.rollback();
                    }
                    return mine;
                }));
            }
            go.countDown();
            List<Long> calls = new ArrayList<>();
            for (Future<List<Long>> future : claimed) {
                calls.addAll(future.get(30, TimeUnit.SECONDS));
            }
            assertThat(calls).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(all);
        } finally {
            pool.shutdownNow();
        }
        assertThat(ready()).isEmpty();
        assertThat(number("SELECT count(*) FROM kiln_cron WHERE lastcall IS NULL OR nextcall <= now()")).isZero();
    }

    @Test
    void aListingMadeBeforeAnotherRunnerRanTheJobNoLongerClaimsIt() throws SQLException {
        long job = job("once", now().minus(1, ChronoUnit.HOURS), 5);
        try (Connection a = claim(); Connection b = claim()) {
            List<Long> listA = CronStore.readyIds(a);
            a.commit();
            runOnce(b, job);
            // READ COMMITTED: the claim sees B's reschedule although A's list still names the job
            assertThat(listA).containsExactly(job);
            assertThat(CronStore.acquire(a, listA)).isNull();
            a.rollback();
        }
    }

    // ---- the start check ----

    @Test
    void startFindsNothingToDoWhenAnotherRunnerRanTheJobAfterTheClaimsSnapshot() throws SQLException {
        long job = job("stale", now().minus(1, ChronoUnit.HOURS), 5);
        CronStore.Claimed stale;
        try (Connection a = claim(); Connection b = claim(); Connection work = work()) {
            List<Long> listA = CronStore.readyIds(a);
            a.commit();
            // A's claim as it would be had its lock been granted on a snapshot older than B's commit
            // (the trigger subquery of a row lock re-check reads the statement's snapshot)
            stale = CronStore.acquire(a, listA);
            assertThat(stale).isNotNull();
            a.rollback();
            runOnce(b, job);

            assertThat(CronStore.start(work, stale)).isNull();
        }
        // the call that did not start is not counted as one that timed out
        assertThat(number("SELECT timed_out_counter FROM kiln_cron_progress WHERE cron_id = ?", job)).isZero();
    }

    @Test
    void startFindsNothingToDoWhenTheTriggerThatMadeTheJobReadyWasServedMeanwhile() throws SQLException {
        long job = job("triggered", now().plus(1, ChronoUnit.DAYS), 5);
        update("INSERT INTO kiln_cron_trigger (cron_id, call_at) VALUES (?, now() - interval '1 minute')", job);
        CronStore.Claimed stale;
        try (Connection a = claim(); Connection b = claim(); Connection work = work()) {
            List<Long> list = CronStore.readyIds(a);
            a.commit();
            stale = CronStore.acquire(a, list);
            assertThat(stale).isNotNull();
            a.rollback();
            runOnce(b, job);
            assertThat(number("SELECT count(*) FROM kiln_cron_trigger WHERE cron_id = ?", job)).isZero();

            assertThat(CronStore.start(work, stale)).isNull();
        }
    }

    @Test
    void startCountsTheCallAndCommitsItWhenTheJobIsStillDue() throws SQLException {
        long job = job("due", now().minus(1, ChronoUnit.HOURS), 5);
        try (Connection a = claim(); Connection work = work()) {
            CronStore.Claimed claimed = CronStore.acquire(a, CronStore.readyIds(a));
            CronStore.Start start = CronStore.start(work, claimed);
            assertThat(start).isEqualTo(new CronStore.Start(1, null));
            // committed by start(): another transaction sees the count while the claim is still open
            assertThat(number("SELECT timed_out_counter FROM kiln_cron_progress WHERE cron_id = ?", job)).isEqualTo(1);
            a.rollback();
        }
    }

    // ---- the completion mark ----

    @Test
    void aCallCompletedByARunnerThatDiedBeforeReschedulingIsRescheduledWithoutASecondRun() throws SQLException {
        Instant nextcall = now().minus(30, ChronoUnit.MINUTES);
        long job = job("lost", nextcall, 5);
        CronStore.Claimed first;
        try (Connection claim = claim(); Connection work = work()) {
            List<Long> list = CronStore.readyIds(claim);
            claim.commit();
            first = CronStore.acquire(claim, list);
            assertThat(CronStore.start(work, first)).isEqualTo(new CronStore.Start(1, null));
            // the job's transaction: its effect and the completion mark in one commit
            update(work, "INSERT INTO cron_effect (job) VALUES (?)", job);
            CronStore.complete(work, first, 3, 0);
            work.commit();
            // the runner dies here: its claim transaction (the reschedule) never commits
            claim.rollback();
        }
        assertThat(instant("SELECT completed_at FROM kiln_cron_progress WHERE cron_id = ?", job)).isEqualTo(first.now());
        assertThat(number("SELECT done FROM kiln_cron_progress WHERE cron_id = ?", job)).isEqualTo(3);
        assertThat(ready()).as("not rescheduled: still due").containsExactly(job);

        try (Connection claim = claim(); Connection work = work()) {
            List<Long> list = CronStore.readyIds(claim);
            claim.commit();
            CronStore.Claimed second = CronStore.acquire(claim, list);
            assertThat(second.id()).isEqualTo(job);
            CronStore.Start start = CronStore.start(work, second);
            assertThat(start).isNotNull();
            assertThat(start.completedAt()).as("the call left behind, to be finished, not run").isEqualTo(first.now());
            // what the runner does with it
            assertThat(CronStore.finish(claim, second, start.completedAt(), false, false)).isTrue();
            claim.commit();
        }
        assertThat(number("SELECT count(*) FROM cron_effect WHERE job = ?", job)).isEqualTo(1);
        assertThat(instant("SELECT nextcall FROM kiln_cron WHERE id = ?", job)).isEqualTo(nextcall.plus(1, ChronoUnit.HOURS));
        assertThat(instant("SELECT lastcall FROM kiln_cron WHERE id = ?", job)).isEqualTo(first.now());
        assertThat(instant("SELECT completed_at FROM kiln_cron_progress WHERE cron_id = ?", job)).isNull();
        assertThat(number("SELECT timed_out_counter FROM kiln_cron_progress WHERE cron_id = ?", job)).isZero();
        assertThat(ready()).isEmpty();
    }

    @Test
    void aCallWhoseJobTransactionRolledBackLeavesNoCompletionMark() throws SQLException {
        long job = job("rolled_back", now().minus(30, ChronoUnit.MINUTES), 5);
        try (Connection claim = claim(); Connection work = work()) {
            CronStore.Claimed first = CronStore.acquire(claim, CronStore.readyIds(claim));
            CronStore.start(work, first);
            update(work, "INSERT INTO cron_effect (job) VALUES (?)", job);
            CronStore.complete(work, first, 0, 0);
            work.rollback();          // killed before the job's commit
            claim.rollback();
        }
        try (Connection claim = claim(); Connection work = work()) {
            CronStore.Claimed second = CronStore.acquire(claim, CronStore.readyIds(claim));
            assertThat(CronStore.start(work, second)).as("run it again, second unfinished call")
                    .isEqualTo(new CronStore.Start(2, null));
            claim.rollback();
        }
        assertThat(number("SELECT count(*) FROM cron_effect")).isZero();
    }

    // ---- finish ----

    @Test
    void successClearsTheFailureRecordMovesByWholeIntervalsAndRemovesTheTriggersItServed() throws SQLException {
        Instant nextcall = now().minus(150, ChronoUnit.MINUTES);
        long job = job("ok", nextcall, 5);
        update("UPDATE kiln_cron SET failure_count = 3, first_failure_date = now() - interval '2 days' WHERE id = ?", job);
        long served = trigger(job, "now() - interval '1 minute'");
        try (Connection claim = claim()) {
            List<Long> list = CronStore.readyIds(claim);
            claim.commit();
            CronStore.Claimed claimed = CronStore.acquire(claim, list);
            assertThat(claimed.failureCount()).isEqualTo(3);
            assertThat(claimed.firstFailure()).isNotNull();
            // asked for while the call runs: after the claim time, so another call is due
            long during = trigger(job, claimed.now().plus(1, ChronoUnit.MICROS));
            long later = trigger(job, "now() + interval '1 hour'");

            assertThat(CronStore.finish(claim, claimed, claimed.now(), false, false)).isTrue();
            claim.commit();

            assertThat(number("SELECT failure_count FROM kiln_cron WHERE id = ?", job)).isZero();
            assertThat(instant("SELECT first_failure_date FROM kiln_cron WHERE id = ?", job)).isNull();
            assertThat(bool("SELECT active FROM kiln_cron WHERE id = ?", job)).isTrue();
            assertThat(instant("SELECT nextcall FROM kiln_cron WHERE id = ?", job))
                    .as("-2.5 h on an hourly grid: +0.5 h").isEqualTo(nextcall.plus(3, ChronoUnit.HOURS));
            assertThat(instant("SELECT lastcall FROM kiln_cron WHERE id = ?", job)).isEqualTo(claimed.now());
            assertThat(numbers("SELECT id FROM kiln_cron_trigger WHERE cron_id = ? ORDER BY id", job))
                    .doesNotContain(served).containsExactly(during, later);
            assertThat(ready()).as("the trigger set during the call").containsExactly(job);
        }
    }

    @Test
    void failuresAreCountedFromTheFirstOneAndTheJobStillMovesOn() throws SQLException {
        Instant nextcall = now().minus(10, ChronoUnit.MINUTES);
        long job = job("failing", nextcall, 5);
        CronStore.Claimed first;
        try (Connection claim = claim()) {
            first = CronStore.acquire(claim, CronStore.readyIds(claim));
            assertThat(CronStore.finish(claim, first, first.now(), true, false)).isTrue();
            claim.commit();
        }
        assertThat(number("SELECT failure_count FROM kiln_cron WHERE id = ?", job)).isEqualTo(1);
        assertThat(instant("SELECT first_failure_date FROM kiln_cron WHERE id = ?", job)).isEqualTo(first.now());
        assertThat(instant("SELECT nextcall FROM kiln_cron WHERE id = ?", job)).isEqualTo(nextcall.plus(1, ChronoUnit.HOURS));
        assertThat(bool("SELECT active FROM kiln_cron WHERE id = ?", job)).isTrue();

        update("UPDATE kiln_cron SET nextcall = now() - interval '1 minute' WHERE id = ?", job);
        try (Connection claim = claim()) {
            CronStore.Claimed second = CronStore.acquire(claim, CronStore.readyIds(claim));
            assertThat(second.failureCount()).isEqualTo(1);
            assertThat(CronStore.finish(claim, second, second.now(), true, false)).isTrue();
            claim.commit();
        }
        assertThat(number("SELECT failure_count FROM kiln_cron WHERE id = ?", job)).isEqualTo(2);
        assertThat(instant("SELECT first_failure_date FROM kiln_cron WHERE id = ?", job))
                .as("the first failure is kept").isEqualTo(first.now());
    }

    @Test
    void theFifthFailureAfterAWeekOfFailuresDeactivatesTheJob() throws SQLException {
        long job = job("broken", now().minus(1, ChronoUnit.MINUTES), 5);
        update("UPDATE kiln_cron SET failure_count = 4, first_failure_date = now() - interval '8 days' WHERE id = ?", job);
        try (Connection claim = claim()) {
            CronStore.Claimed claimed = CronStore.acquire(claim, CronStore.readyIds(claim));
            // a batch asking for more is not called again once deactivated
            assertThat(CronStore.finish(claim, claimed, claimed.now(), true, true)).isFalse();
            claim.commit();
        }
        assertThat(bool("SELECT active FROM kiln_cron WHERE id = ?", job)).isFalse();
        assertThat(number("SELECT count(*) FROM kiln_cron_trigger WHERE cron_id = ?", job)).isZero();
        update("UPDATE kiln_cron SET nextcall = now() - interval '1 minute' WHERE id = ?", job);
        assertThat(ready()).isEmpty();
    }

    @Test
    void theFifthFailureWithinAWeekDoesNotDeactivateTheJob() throws SQLException {
        long job = job("flaky", now().minus(1, ChronoUnit.MINUTES), 5);
        update("UPDATE kiln_cron SET failure_count = 4, first_failure_date = now() - interval '6 days' WHERE id = ?", job);
        try (Connection claim = claim()) {
            CronStore.Claimed claimed = CronStore.acquire(claim, CronStore.readyIds(claim));
            assertThat(CronStore.finish(claim, claimed, claimed.now(), true, false)).isTrue();
            claim.commit();
        }
        assertThat(bool("SELECT active FROM kiln_cron WHERE id = ?", job)).isTrue();
        assertThat(number("SELECT failure_count FROM kiln_cron WHERE id = ?", job)).isEqualTo(5);
        // and a week of failures later, the next one does
        update("UPDATE kiln_cron SET nextcall = now() - interval '1 minute', first_failure_date = now() - interval '7 days 1 minute'"
                + " WHERE id = ?", job);
        try (Connection claim = claim()) {
            CronStore.Claimed claimed = CronStore.acquire(claim, CronStore.readyIds(claim));
            assertThat(CronStore.finish(claim, claimed, claimed.now(), true, false)).isFalse();
            claim.commit();
        }
        assertThat(bool("SELECT active FROM kiln_cron WHERE id = ?", job)).isFalse();
    }

    @Test
    void aReactivatedJobStartsAFreshFailureRecord() throws SQLException {
        CronJob declared = CronJob.every(1, Unit.HOURS, "revived", context -> { });
        try (Connection work = work()) {
            CronStore.declare(work, "shop", List.of(new CronSpec("shop", declared)));
            work.commit();
        }
        long job = number("SELECT id FROM kiln_cron WHERE name = 'shop.revived'");
        update("UPDATE kiln_cron SET nextcall = now() - interval '1 minute', failure_count = 4,"
                + " first_failure_date = now() - interval '8 days' WHERE id = ?", job);
        try (Connection claim = claim()) {
            CronStore.Claimed claimed = CronStore.acquire(claim, CronStore.readyIds(claim));
            assertThat(CronStore.finish(claim, claimed, claimed.now(), true, false)).isFalse();
            claim.commit();
        }

        // the addon is updated: the job is declared active again, and fails once
        try (Connection work = work()) {
            CronStore.declare(work, "shop", List.of(new CronSpec("shop", declared)));
            work.commit();
        }
        update("UPDATE kiln_cron SET nextcall = now() - interval '1 minute' WHERE id = ?", job);
        try (Connection claim = claim()) {
            CronStore.Claimed claimed = CronStore.acquire(claim, CronStore.readyIds(claim));
            assertThat(CronStore.finish(claim, claimed, claimed.now(), true, false))
                    .as("one failure after a reactivation").isTrue();
            claim.commit();
        }
        assertThat(bool("SELECT active FROM kiln_cron WHERE id = ?", job)).isTrue();
        assertThat(number("SELECT failure_count FROM kiln_cron WHERE id = ?", job)).isEqualTo(1);
    }

    @Test
    void againAsksForAnotherCallAtOnce() throws SQLException {
        long job = job("batch", now().minus(1, ChronoUnit.MINUTES), 5);
        update("INSERT INTO kiln_cron_trigger (cron_id, call_at) VALUES (?, now() - interval '1 minute')", job);
        CronStore.Claimed claimed;
        try (Connection claim = claim()) {
            claimed = CronStore.acquire(claim, CronStore.readyIds(claim));
            assertThat(CronStore.finish(claim, claimed, claimed.now(), false, true)).isTrue();
            claim.commit();
        }
        assertThat(instants("SELECT call_at FROM kiln_cron_trigger WHERE cron_id = ?", job))
                .as("the served trigger removed, one new at the claim's now").containsExactly(claimed.now());
        assertThat(instant("SELECT nextcall FROM kiln_cron WHERE id = ?", job)).isAfter(Instant.now());
        assertThat(ready()).containsExactly(job);
    }

    // ---- the timed-out counter ----

    @Test
    void eachStartWithoutAFinishIsCountedAndFinishResetsTheCount() throws SQLException {
        long job = job("slow", now().minus(1, ChronoUnit.MINUTES), 5);
        try (Connection claim = claim(); Connection work = work()) {
            CronStore.Claimed claimed = CronStore.acquire(claim, CronStore.readyIds(claim));
            assertThat(CronStore.start(work, claimed).timedOutCounter()).isEqualTo(1);
            assertThat(CronStore.start(work, claimed).timedOutCounter()).isEqualTo(2);
            assertThat(CronStore.start(work, claimed)).isEqualTo(new CronStore.Start(3, null));
            assertThat(CronStore.start(work, claimed).timedOutCounter()).isGreaterThan(CronStore.MAX_TIMED_OUT);
            assertThat(number("SELECT timed_out_counter FROM kiln_cron_progress WHERE cron_id = ?", job)).isEqualTo(4);

            CronStore.finish(claim, claimed, claimed.now(), true, false);
            claim.commit();
        }
        assertThat(number("SELECT timed_out_counter FROM kiln_cron_progress WHERE cron_id = ?", job)).isZero();
    }

    @Test
    void aCompletedCallResetsTheCountInTheJobsCommit() throws SQLException {
        long job = job("resets", now().minus(1, ChronoUnit.MINUTES), 5);
        update("INSERT INTO kiln_cron_progress (cron_id, timed_out_counter) VALUES (?, 2)", job);
        try (Connection claim = claim(); Connection work = work()) {
            CronStore.Claimed claimed = CronStore.acquire(claim, CronStore.readyIds(claim));
            assertThat(CronStore.start(work, claimed).timedOutCounter()).isEqualTo(3);
            CronStore.complete(work, claimed, 5, 7);
            work.commit();
            assertThat(number("SELECT timed_out_counter FROM kiln_cron_progress WHERE cron_id = ?", job)).isZero();
            assertThat(number("SELECT remaining FROM kiln_cron_progress WHERE cron_id = ?", job)).isEqualTo(7);
            claim.rollback();
        }
    }

    // ---- triggers ----

    @Test
    void aTriggerForAnUnknownJobIsRefusedNamingIt() throws SQLException {
        job("known", now().plus(1, ChronoUnit.DAYS), 5);
        try (Connection work = work()) {
            assertThatThrownBy(() -> CronStore.trigger(work, "shop.nope", null))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'shop.nope'");
            work.rollback();
        }
        assertThat(number("SELECT count(*) FROM kiln_cron_trigger")).isZero();
    }

    @Test
    void aTriggerIsForNowUnlessTold() throws SQLException {
        long job = job("asked", now().plus(1, ChronoUnit.DAYS), 5);
        Instant at = now().plus(2, ChronoUnit.HOURS);
        Instant transactionNow;
        try (Connection work = work()) {
            CronStore.trigger(work, "asked", null);
            CronStore.trigger(work, "asked", at);
            transactionNow = instant(work, "SELECT now()");
            work.commit();
        }
        assertThat(instants("SELECT call_at FROM kiln_cron_trigger WHERE cron_id = ? ORDER BY id", job))
                .containsExactly(transactionNow, at);
        assertThat(ready()).containsExactly(job);
    }

    // ---- jobs declared by addons ----

    @Test
    void declaredJobsAreCreatedUpdatedAndRemovedPerAddon() throws SQLException {
        Instant first = now().plus(1, ChronoUnit.DAYS);
        ZoneId brussels = ZoneId.of("Europe/Brussels");
        CronJob a = CronJob.every(1, Unit.HOURS, "a", context -> { }).priority(2).zone(brussels);
        CronJob b = CronJob.every(1, Unit.DAYS, "b", context -> { }).firstCall(first);
        CronJob x = CronJob.every(3, Unit.WEEKS, "x", context -> { }).inactive();
        Instant declaredAt;
        try (Connection work = work()) {
            CronStore.declare(work, "shop", List.of(new CronSpec("shop", a), new CronSpec("shop", b)));
            CronStore.declare(work, "other", List.of(new CronSpec("other", x)));
            declaredAt = instant(work, "SELECT now()");
            work.commit();
        }
        assertThat(row("shop.a")).isEqualTo(new Row("shop", "shop.a", 1, "hours", "Europe/Brussels", 2, true, declaredAt));
        assertThat(row("shop.b")).isEqualTo(new Row("shop", "shop.b", 1, "days", "Z", 5, true, first));
        Row otherBefore = row("other.x");
        assertThat(otherBefore).isEqualTo(new Row("other", "other.x", 3, "weeks", "Z", 5, false, declaredAt));
        long otherId = number("SELECT id FROM kiln_cron WHERE name = 'other.x'");

        // the job ran meanwhile; its addon is updated with another interval, priority, state and first call
        Instant ran = now().plus(5, ChronoUnit.HOURS);
        update("UPDATE kiln_cron SET nextcall = ? WHERE name = 'shop.a'", ts(ran));
        long b_ = number("SELECT id FROM kiln_cron WHERE name = 'shop.b'");
        trigger(b_, "now() + interval '1 hour'");
        CronJob a2 = CronJob.every(2, Unit.DAYS, "a", context -> { }).priority(7).inactive().firstCall(first.plus(9, ChronoUnit.DAYS));
        try (Connection work = work()) {
            CronStore.declare(work, "shop", List.of(new CronSpec("shop", a2)));
            work.commit();
        }
        assertThat(row("shop.a")).as("next call kept, the rest applied")
                .isEqualTo(new Row("shop", "shop.a", 2, "days", "Z", 7, false, ran));
        assertThat(row("shop.b")).as("no longer declared").isNull();
        assertThat(number("SELECT count(*) FROM kiln_cron_trigger")).isZero();
        assertThat(row("other.x")).isEqualTo(otherBefore);
        assertThat(number("SELECT id FROM kiln_cron WHERE name = 'other.x'")).isEqualTo(otherId);

        // an addon that declares none any more
        try (Connection work = work()) {
            CronStore.declare(work, "shop", List.of());
            work.commit();
        }
        assertThat(numbers("SELECT id FROM kiln_cron")).containsExactly(otherId);
    }

    // ---- helpers ----

    private record Row(String addon, String code, int number, String unit, String zone, int priority, boolean active,
                       Instant nextcall) { }

    private static Row row(String name) throws SQLException {
        try (Connection connection = claim();
             PreparedStatement query = connection.prepareStatement("""
                     SELECT addon, code, interval_number, interval_type, timezone, priority, active, nextcall
                     FROM kiln_cron WHERE name = ?""")) {
            query.setString(1, name);
            try (ResultSet row = query.executeQuery()) {
                Row result = row.next() ? new Row(row.getString(1), row.getString(2), row.getInt(3), row.getString(4),
                        row.getString(5), row.getInt(6), row.getBoolean(7), CronStore.instant(row, 8)) : null;
                connection.rollback();
                return result;
            }
        }
    }

    /** One call as a runner makes it: claim, start, the job's commit with its mark, the reschedule. */
    private static void runOnce(Connection claim, long job) throws SQLException {
        List<Long> list = CronStore.readyIds(claim);
        claim.commit();
        CronStore.Claimed claimed = CronStore.acquire(claim, list);
        assertThat(claimed.id()).isEqualTo(job);
        try (Connection work = work()) {
            assertThat(CronStore.start(work, claimed)).isNotNull();
            update(work, "INSERT INTO cron_effect (job) VALUES (?)", job);
            CronStore.complete(work, claimed, 0, 0);
            work.commit();
        }
        assertThat(CronStore.finish(claim, claimed, claimed.now(), false, false)).isTrue();
        claim.commit();
    }

    /** A job due at {@code nextcall}, every hour in UTC, of the addon "test". */
    private static long job(String name, Instant nextcall, int priority) throws SQLException {
        return number("""
                INSERT INTO kiln_cron (name, addon, code, interval_number, interval_type, timezone, priority, nextcall)
                VALUES (?, 'test', ?, 1, 'hours', 'UTC', ?, ?) RETURNING id""", name, "test." + name, priority, ts(nextcall));
    }

    private static long trigger(long job, String callAtSql) throws SQLException {
        return number("INSERT INTO kiln_cron_trigger (cron_id, call_at) VALUES (?, " + callAtSql + ") RETURNING id", job);
    }

    private static long trigger(long job, Instant callAt) throws SQLException {
        return number("INSERT INTO kiln_cron_trigger (cron_id, call_at) VALUES (?, ?) RETURNING id", job, ts(callAt));
    }

    private static List<Long> ready() throws SQLException {
        try (Connection claim = claim()) {
            List<Long> ids = CronStore.readyIds(claim);
            claim.commit();
            return ids;
        }
    }

    /** Now, to the microsecond as PostgreSQL stores it. */
    private static Instant now() {
        return Instant.now().truncatedTo(ChronoUnit.MICROS);
    }

    private static OffsetDateTime ts(Instant instant) {
        return instant.atOffset(ZoneOffset.UTC);
    }

    private static Connection claim() {
        return pools.connection(db, Isolation.READ_COMMITTED);
    }

    private static Connection work() {
        return pools.connection(db);
    }

    private static void update(String sql, Object... parameters) throws SQLException {
        try (Connection connection = claim()) {
            update(connection, sql, parameters);
            connection.commit();
        }
    }

    private static void update(Connection connection, String sql, Object... parameters) throws SQLException {
        try (PreparedStatement statement = prepare(connection, sql, parameters)) {
            statement.execute();
        }
    }

    private static PreparedStatement prepare(Connection connection, String sql, Object... parameters) throws SQLException {
        PreparedStatement statement = connection.prepareStatement(sql);
        for (int i = 0; i < parameters.length; i++) {
            statement.setObject(i + 1, parameters[i]);
        }
        return statement;
    }

    private static List<Object> column(Connection connection, String sql, Object... parameters) throws SQLException {
        List<Object> values = new ArrayList<>();
        try (PreparedStatement query = prepare(connection, sql, parameters); ResultSet rows = query.executeQuery()) {
            while (rows.next()) {
                Object value = rows.getObject(1);
                values.add(value instanceof Timestamp ? rows.getObject(1, OffsetDateTime.class).toInstant() : value);
            }
        }
        return values;
    }

    private static List<Object> column(String sql, Object... parameters) throws SQLException {
        try (Connection connection = claim()) {
            List<Object> values = column(connection, sql, parameters);
            connection.commit();
            return values;
        }
    }

    private static Object one(String sql, Object... parameters) throws SQLException {
        List<Object> values = column(sql, parameters);
        assertThat(values).as(sql).hasSizeLessThanOrEqualTo(1);
        return values.isEmpty() ? null : values.getFirst();
    }

    private static long number(String sql, Object... parameters) throws SQLException {
        return ((Number) one(sql, parameters)).longValue();
    }

    private static List<Long> numbers(String sql, Object... parameters) throws SQLException {
        return column(sql, parameters).stream().map(v -> ((Number) v).longValue()).toList();
    }

    private static boolean bool(String sql, Object... parameters) throws SQLException {
        return (Boolean) one(sql, parameters);
    }

    private static Instant instant(String sql, Object... parameters) throws SQLException {
        return (Instant) one(sql, parameters);
    }

    private static Instant instant(Connection connection, String sql) throws SQLException {
        return (Instant) column(connection, sql).getFirst();
    }

    private static List<Instant> instants(String sql, Object... parameters) throws SQLException {
        return Collections.unmodifiableList(column(sql, parameters).stream().map(Instant.class::cast).toList());
    }
}
