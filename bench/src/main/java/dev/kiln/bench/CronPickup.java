package dev.kiln.bench;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The pick-up latency of Kiln's cron runners, for {@code bench/cron}: how long from the commit of a
 * trigger to the start of the job it asks for, with the runners idle (listening).
 *
 * <p>Each sample inserts a trigger "now" for {@code JOB} (a job whose code is {@code hello.ledger},
 * not due otherwise) and commits; reads {@code clock_timestamp()} on the same connection right after
 * the commit (so the commit time is read late by one round trip at most, never early); then wakes
 * the runners as Kiln does ({@code pg_notify('kiln_cron', DB)} in the database {@code postgres}) and
 * polls {@code hello_cron_ledger} every {@value #POLL_MILLIS} ms for the row the call writes. Its
 * {@code ran_at} is {@code clock_timestamp()} at the job's insert, on the same server clock, so the
 * polling does not enter the figure: latency = ran_at − commit time. Between samples it waits until
 * the call has been rescheduled (its trigger is gone), then a random 20–60 ms, so that the runners
 * are back to listening when the next trigger comes.
 *
 * <p>Usage: {@code java -cp ... dev.kiln.bench.CronPickup JDBC_URL_PREFIX DB USER JOB SAMPLES}, where
 * {@code JDBC_URL_PREFIX} is {@code jdbc:postgresql://localhost:PORT/}. Prints one summary line:
 * {@code samples=N p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. mean_ms=..}. The first {@value #WARMUP}
 * calls are not counted.
 */
public final class CronPickup {

    private static final int WARMUP = 5;
    private static final long POLL_MILLIS = 2;
    private static final Duration GIVE_UP = Duration.ofSeconds(30);

    private CronPickup() { }

    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: CronPickup JDBC_URL_PREFIX DB USER JOB SAMPLES");
            System.exit(2);
        }
        String prefix = args[0];
        String db = args[1];
        String user = args[2];
        String job = args[3];
        int samples = Integer.parseInt(args[4]);
        try (Connection work = DriverManager.getConnection(prefix + db, user, null);
             Connection maintenance = DriverManager.getConnection(prefix + "postgres", user, null)) {
            work.setAutoCommit(false);
            long jobId = jobId(work, job);
            double[] millis = new double[samples];
            for (int i = -WARMUP; i < samples; i++) {
                double ms = sample(work, maintenance, db, jobId);
                if (i >= 0) {
                    millis[i] = ms;
                }
                awaitRescheduled(work, jobId);
                Thread.sleep(20 + ThreadLocalRandom.current().nextInt(41));
            }
            Arrays.sort(millis);
            double mean = Arrays.stream(millis).average().orElse(0);
            System.out.printf("samples=%d p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f mean_ms=%.1f%n", samples,
                    rank(millis, 0.50), rank(millis, 0.90), rank(millis, 0.99), millis[samples - 1], mean);
        }
    }

    /** One trigger, committed and notified; returns the milliseconds from its commit to the job's start. */
    private static double sample(Connection work, Connection maintenance, String db, long jobId)
            throws SQLException, InterruptedException {
        long seen;
        try (PreparedStatement last = work.prepareStatement(
                "SELECT coalesce(max(id), 0) FROM hello_cron_ledger WHERE job_id = ?")) {
            last.setLong(1, jobId);
            seen = single(last).getLong(1);
        }
        work.commit();
        try (PreparedStatement trigger = work.prepareStatement(
                "INSERT INTO kiln_cron_trigger (cron_id, call_at) VALUES (?, now())")) {
            trigger.setLong(1, jobId);
            trigger.executeUpdate();
        }
        work.commit();
        OffsetDateTime committed;
        try (PreparedStatement clock = work.prepareStatement("SELECT clock_timestamp()")) {
            committed = single(clock).getObject(1, OffsetDateTime.class);
        }
        work.commit();
        try (PreparedStatement notify = maintenance.prepareStatement("SELECT pg_notify('kiln_cron', ?)")) {
            notify.setString(1, db);
            notify.execute();
        }
        long deadline = System.nanoTime() + GIVE_UP.toNanos();
        try (PreparedStatement ledger = work.prepareStatement(
                "SELECT ran_at FROM hello_cron_ledger WHERE job_id = ? AND id > ? ORDER BY id LIMIT 1")) {
            ledger.setLong(1, jobId);
            ledger.setLong(2, seen);
            while (System.nanoTime() < deadline) {
                try (ResultSet row = ledger.executeQuery()) {
                    if (row.next()) {
                        OffsetDateTime ran = row.getObject(1, OffsetDateTime.class);
                        work.commit();
                        return committed.until(ran, ChronoUnit.MICROS) / 1000.0;
                    }
                }
                work.commit();
                Thread.sleep(POLL_MILLIS);
            }
        }
        throw new IllegalStateException("no call of job " + jobId + " within " + GIVE_UP.toSeconds()
                + " s of its trigger: are the runners up (--max-cron-threads > 0) and is the job active?");
    }

    /** Waits until the runner has rescheduled the call (it deletes the triggers it served). */
    private static void awaitRescheduled(Connection work, long jobId) throws SQLException, InterruptedException {
        long deadline = System.nanoTime() + GIVE_UP.toNanos();
        try (PreparedStatement pending = work.prepareStatement("SELECT count(*) FROM kiln_cron_trigger WHERE cron_id = ?")) {
            pending.setLong(1, jobId);
            while (true) {
                long left = single(pending).getLong(1);
                work.commit();
                if (left == 0) {
                    return;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("job " + jobId + " still has a trigger " + GIVE_UP.toSeconds() + " s after its call");
                }
                Thread.sleep(POLL_MILLIS);
            }
        }
    }

    private static long jobId(Connection work, String job) throws SQLException {
        try (PreparedStatement query = work.prepareStatement("SELECT id FROM kiln_cron WHERE name = ? AND active")) {
            query.setString(1, job);
            try (ResultSet row = query.executeQuery()) {
                if (!row.next()) {
                    throw new IllegalArgumentException("no active cron job named '" + job + "'");
                }
                long id = row.getLong(1);
                work.commit();
                return id;
            }
        }
    }

    /** The first row of {@code query}, which must have one; the caller reads it before closing the statement. */
    private static ResultSet single(PreparedStatement query) throws SQLException {
        ResultSet row = query.executeQuery();
        if (!row.next()) {
            throw new IllegalStateException("no row");
        }
        return row;
    }

    /** Nearest-rank percentile of sorted values. */
    private static double rank(double[] sorted, double p) {
        int index = (int) Math.ceil(p * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }
}
