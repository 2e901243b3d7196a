package dev.kiln.cron.store;

import dev.kiln.addons.CronSpec;
import dev.kiln.api.CronJob;
import dev.kiln.db.Tables;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * All the SQL of the cron processor, on its tables {@code kiln_cron} (the jobs), {@code kiln_cron_trigger}
 * ("run this job at T") and {@code kiln_cron_progress} (one row per job: the last progress report, the
 * timed-out counter, and the completion mark described below).
 *
 * <p>A call of a job is claimed, run and completed in three transactions, as in Odoo:
 * <ol>
 * <li>the runner's transaction locks the job row ({@code FOR NO KEY UPDATE SKIP LOCKED}) and keeps it
 *     locked until the end, so no other runner takes it;</li>
 * <li>a short transaction (one statement) counts the call in {@code timed_out_counter} before it starts (a runner
 *     killed mid-job leaves it counted; three in a row and the job is failed without running), and
 *     checks on a fresh snapshot that the job is still due;</li>
 * <li>the job's own transaction runs its code and, in the same commit, sets {@code completed_at};</li>
 * </ol>
 * then the runner's transaction reschedules the job and clears {@code completed_at}. A runner that
 * dies between the job's commit and its own leaves {@code completed_at} set: the next claimer sees
 * it and finishes that reschedule instead of running the job again. That is what makes a call's
 * effect committed exactly once.
 */
public final class CronStore {

    /**
     * The cron tables, created with Kiln's own in every database (see {@code RegistrySchema}). The
     * two tables updated at every call leave room in their pages (fillfactor 70) and {@code kiln_cron}
     * has no index on a column a call changes, so a call's updates are HOT: no index entry written,
     * no page left for VACUUM to clean per call.
     */
    public static final Tables TABLES = new Tables("""
            CREATE TABLE IF NOT EXISTS kiln_cron (
                id bigserial PRIMARY KEY,
                name text NOT NULL UNIQUE,
                addon text,
                code text NOT NULL,
                interval_number integer NOT NULL CHECK (interval_number > 0),
                interval_type text NOT NULL CHECK (interval_type IN ('minutes', 'hours', 'days', 'weeks', 'months')),
                timezone text NOT NULL DEFAULT 'UTC',
                priority integer NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 10),
                active boolean NOT NULL DEFAULT true,
                nextcall timestamptz NOT NULL DEFAULT now(),
                lastcall timestamptz,
                failure_count integer NOT NULL DEFAULT 0,
                first_failure_date timestamptz,
                wall_time time)
                WITH (fillfactor = 70);
            CREATE TABLE IF NOT EXISTS kiln_cron_trigger (
                id bigserial PRIMARY KEY,
                cron_id bigint NOT NULL REFERENCES kiln_cron ON DELETE CASCADE,
                call_at timestamptz NOT NULL);
            CREATE INDEX IF NOT EXISTS kiln_cron_trigger_due ON kiln_cron_trigger (call_at, cron_id);
            CREATE INDEX IF NOT EXISTS kiln_cron_trigger_job ON kiln_cron_trigger (cron_id);
            CREATE TABLE IF NOT EXISTS kiln_cron_progress (
                cron_id bigint PRIMARY KEY REFERENCES kiln_cron ON DELETE CASCADE,
                done integer NOT NULL DEFAULT 0,
                remaining integer NOT NULL DEFAULT 0,
                timed_out_counter integer NOT NULL DEFAULT 0,
                completed_at timestamptz,
                updated_at timestamptz NOT NULL DEFAULT now())
                WITH (fillfactor = 70);
            """, "kiln_cron_progress");

    /** Ready, as Odoo: active and due, or with a due trigger; "now" is the transaction's timestamp. */
    private static final String READY = """
            c.active AND (c.nextcall <= now()
                OR c.id IN (SELECT t.cron_id FROM kiln_cron_trigger t WHERE t.call_at <= now()))""";

    private static final String LIST_READY = "SELECT c.id FROM kiln_cron c WHERE " + READY
            + " ORDER BY c.failure_count, c.priority, c.id";

    /** What a claim reads of its job, in the order {@link #claimed} maps it. */
    private static final String CLAIMED = """
            SELECT c.id, c.name, c.code, c.interval_number, c.interval_type, c.timezone, c.wall_time, c.nextcall,
                   c.failure_count, c.first_failure_date, now()
            FROM kiln_cron c\s""";

    private static final String ACQUIRE = CLAIMED + "WHERE c.id = ANY (?) AND " + READY + """

            ORDER BY c.failure_count, c.priority, c.id LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED""";

    /**
     * Kiln's own bookkeeping commits without waiting for the WAL flush (a condition that is always
     * true and sets {@code synchronous_commit} off for the transaction, so it costs no statement of
     * its own): only the job's transaction waits for the flush. A crash may lose a counter or a
     * reschedule, never a call's effect, and a lost reschedule is finished by the next claimer from
     * the completion mark, which commits (durably) with the effect.
     */
    private static final String NO_FLUSH = "set_config('synchronous_commit', 'off', true) = 'off'";

    /** In a transaction of its own (autocommit): one statement, one round trip. */
    private static final String START = """
            INSERT INTO kiln_cron_progress AS p (cron_id, timed_out_counter, updated_at)
            SELECT c.id, 1, now() FROM kiln_cron c
            WHERE c.id = ? AND c.active AND (c.nextcall <= ?
                OR EXISTS (SELECT 1 FROM kiln_cron_trigger t WHERE t.cron_id = c.id AND t.call_at <= ?)
                OR EXISTS (SELECT 1 FROM kiln_cron_progress q WHERE q.cron_id = c.id AND q.completed_at IS NOT NULL))
              AND\s""" + NO_FLUSH + """

            ON CONFLICT (cron_id) DO UPDATE SET timed_out_counter = p.timed_out_counter + 1, updated_at = now()
            RETURNING p.timed_out_counter, p.completed_at, p.done, p.remaining""";

    private static final String COMPLETE = """
            UPDATE kiln_cron_progress SET completed_at = ?, done = ?, remaining = ?, timed_out_counter = 0,
                updated_at = now()
            WHERE cron_id = ?""";

    private static final String RESCHEDULE = """
            WITH served AS (DELETE FROM kiln_cron_trigger WHERE cron_id = ? AND call_at <= ?),
                 progress AS (UPDATE kiln_cron_progress SET completed_at = NULL, timed_out_counter = 0, updated_at = now()
                              WHERE cron_id = ?),
                 again AS (INSERT INTO kiln_cron_trigger (cron_id, call_at) SELECT ?, now() WHERE ?)
            UPDATE kiln_cron SET nextcall = ?, lastcall = ?, failure_count = ?, first_failure_date = ?, active = ?,
                wall_time = ?
            WHERE id = ? AND\s""" + NO_FLUSH;

    /**
     * Appended to the last statement of a transaction, its commit travels in the same round trip;
     * pgjdbc sees the transaction end (the server reports it idle), so a following
     * {@code Connection.commit()} sends nothing.
     */
    private static final String AND_COMMIT = ";\nCOMMIT";

    private static final String NEXT_DUE = """
            SELECT least((SELECT min(nextcall) FROM kiln_cron WHERE active),
                         (SELECT min(t.call_at) FROM kiln_cron_trigger t JOIN kiln_cron c ON c.id = t.cron_id
                          WHERE c.active))""";

    /** Odoo's deactivation rule: at least this many failures in a row, over at least {@link #FAILING_FOR}. */
    public static final int MAX_FAILURES = 5;
    public static final Duration FAILING_FOR = Duration.ofDays(7);
    /** Calls started but never ended (killed, abandoned) before a job is failed without running it. */
    public static final int MAX_TIMED_OUT = 3;

    private CronStore() { }

    /** A job as claimed by a runner: locked by the runner's transaction until it commits. */
    public record Claimed(long id, String name, String code, Schedule schedule, Instant nextcall, int failureCount,
                   Instant firstFailure, Instant now) { }

    /**
     * What the short start transaction found: the call's number among unfinished ones, and a
     * completion left behind with the progress that call reported.
     */
    public record Start(int timedOutCounter, Instant completedAt, int done, int remaining) {

        Start(int timedOutCounter, Instant completedAt) {
            this(timedOutCounter, completedAt, 0, 0);
        }

        /** Whether the call left behind was a batch with work left, to be called again at once. */
        public boolean moreToDo() {
            return completedAt != null && done > 0 && remaining > 0;
        }
    }

    /** The ids of the ready jobs of this database, in Odoo's order (failures, priority, id). */
    public static List<Long> readyIds(Connection connection) throws SQLException {
        List<Long> ids = new ArrayList<>();
        try (PreparedStatement query = connection.prepareStatement(LIST_READY);
             ResultSet rows = query.executeQuery()) {
            while (rows.next()) {
                ids.add(rows.getLong(1));
            }
        }
        return ids;
    }

    /** When the next job of this database falls due (null: none), to sleep until then. */
    public static Instant nextDue(Connection connection) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement(NEXT_DUE);
             ResultSet row = query.executeQuery()) {
            row.next();
            return instant(row, 1);
        }
    }

    /**
     * Locks the first job of {@code ids} that is still ready and not locked by another runner, in
     * the runner's open transaction; null when none is.
     */
    public static Claimed acquire(Connection connection, List<Long> ids) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement(ACQUIRE)) {
            Array array = connection.createArrayOf("bigint", ids.toArray());
            query.setArray(1, array);
            try (ResultSet row = query.executeQuery()) {
                return row.next() ? claimed(row) : null;
            }
        }
    }

    /**
     * Counts the call before it runs and checks, on a snapshot taken after the claim, that the job
     * is still due (another runner may have run it between the runner's snapshot and its lock).
     * Runs and commits on {@code connection}; null when the job is no longer due.
     */
    public static Start start(Connection connection, Claimed job) throws SQLException {
        connection.setAutoCommit(true);
        try (PreparedStatement statement = connection.prepareStatement(START)) {
            statement.setLong(1, job.id());
            statement.setObject(2, timestamp(job.now()));
            statement.setObject(3, timestamp(job.now()));
            try (ResultSet row = statement.executeQuery()) {
                if (!row.next()) {
                    return null;
                }
                Instant completedAt = instant(row, 2);
                return completedAt == null ? new Start(row.getInt(1), null)
                        : new Start(row.getInt(1), completedAt, row.getInt(3), row.getInt(4));
            }
        } finally {
            connection.setAutoCommit(false);
        }
    }

    /** Marks the call done in the job's own transaction, so its effect and its completion commit together. */
    public static void complete(Connection connection, Claimed job, int done, int remaining) throws SQLException {
        complete(connection, job, done, remaining, false);
    }

    /** {@link #complete}, then the commit of the job's transaction, in one round trip. */
    public static void completeAndCommit(Connection connection, Claimed job, int done, int remaining) throws SQLException {
        complete(connection, job, done, remaining, true);
        connection.commit();
    }

    private static void complete(Connection connection, Claimed job, int done, int remaining, boolean commit)
            throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(commit ? COMPLETE + AND_COMMIT : COMPLETE)) {
            statement.setObject(1, timestamp(job.now()));
            statement.setInt(2, done);
            statement.setInt(3, remaining);
            statement.setLong(4, job.id());
            statement.execute();
        }
    }

    /**
     * The end of a call, in the runner's transaction (the caller commits): the next call, the
     * triggers it served removed, the failure record kept or cleared, and a trigger "now" when a
     * batch reported more work.
     *
     * @param as       the claim time the call served (a completion left behind carries its own)
     * @param failed   whether the call failed
     * @param again    whether to call it again at once (a batch with work left)
     * @return false when the job was deactivated by this failure
     */
    public static boolean finish(Connection connection, Claimed job, Instant as, boolean failed, boolean again)
            throws SQLException {
        return finish(connection, job, as, failed, again, false);
    }

    /** {@link #finish}, then the commit of the runner's transaction (releasing the claim), in one round trip. */
    public static boolean finishAndCommit(Connection connection, Claimed job, Instant as, boolean failed, boolean again)
            throws SQLException {
        boolean active = finish(connection, job, as, failed, again, true);
        connection.commit();
        return active;
    }

    /** What {@link #finishAndAcquire} did: whether the job is still active, and the next job claimed (or null). */
    public record Finished(boolean active, Claimed next) { }

    /**
     * {@link #finishAndCommit}, then a new transaction claiming the next job of {@code window}, all
     * in one round trip: the runner's loop costs three round trips per call instead of four. When
     * none of {@code window} can be claimed the new transaction is rolled back; an empty window
     * claims nothing.
     */
    public static Finished finishAndAcquire(Connection connection, Claimed job, Instant as, boolean failed, boolean again,
                                     List<Long> window) throws SQLException {
        if (window.isEmpty()) {
            return new Finished(finishAndCommit(connection, job, as, failed, again), null);
        }
        Finished finished;
        try (PreparedStatement statement = connection.prepareStatement(RESCHEDULE + AND_COMMIT + ";\nBEGIN;\n" + ACQUIRE)) {
            boolean active = bindReschedule(statement, job, as, failed, again);
            statement.setArray(13, connection.createArrayOf("bigint", window.toArray()));
            boolean isResult = statement.execute();
            while (!isResult) {
                if (statement.getUpdateCount() == -1) {
                    throw new SQLException("the claim of the next cron job returned no result");
                }
                isResult = statement.getMoreResults();
            }
            try (ResultSet row = statement.getResultSet()) {
                finished = new Finished(active, row.next() ? claimed(row) : null);
            }
        }
        if (finished.next() == null) {
            connection.rollback();
        }
        return finished;
    }

    private static boolean finish(Connection connection, Claimed job, Instant as, boolean failed, boolean again,
                                  boolean commit) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(commit ? RESCHEDULE + AND_COMMIT : RESCHEDULE)) {
            boolean active = bindReschedule(statement, job, as, failed, again);
            statement.execute();
            return active;
        }
    }

    /** Binds the 12 parameters of {@link #RESCHEDULE}; returns whether the job stays active. */
    private static boolean bindReschedule(PreparedStatement statement, Claimed job, Instant as, boolean failed,
                                          boolean again) throws SQLException {
        int failures = failed ? job.failureCount() + 1 : 0;
        Instant firstFailure = failed ? (job.firstFailure() == null ? job.now() : job.firstFailure()) : null;
        boolean active = !(failed && failures >= MAX_FAILURES
                && !firstFailure.isAfter(job.now().minus(FAILING_FOR)));
        if (!active) {
            failures = 0;             // as Odoo: a job turned on again starts a fresh record
            firstFailure = null;
        }
            statement.setLong(1, job.id());
        statement.setObject(2, timestamp(as));
        statement.setLong(3, job.id());
        statement.setLong(4, job.id());
        statement.setBoolean(5, again && active);
        statement.setObject(6, timestamp(job.schedule().next(job.nextcall(), as)));
        statement.setObject(7, timestamp(as));
        statement.setInt(8, failures);
        statement.setObject(9, firstFailure == null ? null : timestamp(firstFailure), Types.TIMESTAMP_WITH_TIMEZONE);
        statement.setBoolean(10, active);
        statement.setObject(11, job.schedule().wallTimeOf(job.nextcall()), Types.TIME);
        statement.setLong(12, job.id());
        return active;
    }

    /** One job as {@code kiln cron list} shows it. */
    public record Listed(String name, String code, int intervalNumber, String intervalType, int priority, boolean active,
                         Instant nextcall, Instant lastcall, int failureCount) { }

    /** Every job of the database, by name. */
    public static List<Listed> list(Connection connection) throws SQLException {
        List<Listed> jobs = new ArrayList<>();
        try (PreparedStatement query = connection.prepareStatement("""
                SELECT name, code, interval_number, interval_type, priority, active, nextcall, lastcall, failure_count
                FROM kiln_cron ORDER BY name""");
             ResultSet rows = query.executeQuery()) {
            while (rows.next()) {
                jobs.add(new Listed(rows.getString(1), rows.getString(2), rows.getInt(3), rows.getString(4), rows.getInt(5),
                        rows.getBoolean(6), instant(rows, 7), instant(rows, 8), rows.getInt(9)));
            }
        }
        return jobs;
    }

    /**
     * Locks the job named {@code name} for a call asked by hand, Odoo's {@code _try_lock}: whether due
     * or not, active or not, but never while a runner holds it (SQLSTATE 55P03 then). Null: no such job.
     */
    public static Claimed claimNamed(Connection connection, String name) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement(CLAIMED + "WHERE c.name = ? FOR NO KEY UPDATE NOWAIT")) {
            query.setString(1, name);
            try (ResultSet row = query.executeQuery()) {
                return row.next() ? claimed(row) : null;
            }
        }
    }

    /** After a call asked by hand: its time recorded, its schedule untouched (as Odoo's method_direct_trigger). */
    public static void finishManual(Connection connection, Claimed job) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement("""
                UPDATE kiln_cron SET lastcall = ? WHERE id = ?;
                UPDATE kiln_cron_progress SET completed_at = NULL, updated_at = now() WHERE cron_id = ?""")) {
            statement.setObject(1, timestamp(job.now()));
            statement.setLong(2, job.id());
            statement.setLong(3, job.id());
            statement.execute();
        }
    }

    /**
     * Asks for the job named {@code name} to run at {@code at} (null: now), in the caller's
     * transaction. Throws when the database has no such job.
     */
    public static void trigger(Connection connection, String name, Instant at) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(
                "INSERT INTO kiln_cron_trigger (cron_id, call_at) SELECT id, coalesce(?, now()) FROM kiln_cron WHERE name = ?")) {
            statement.setObject(1, at == null ? null : timestamp(at), Types.TIMESTAMP_WITH_TIMEZONE);
            statement.setString(2, name);
            if (statement.executeUpdate() == 0) {
                throw new IllegalArgumentException("no cron job named '" + name + "' in this database");
            }
        }
    }

    /**
     * Creates or updates the jobs {@code addon} declares, in the installation's transaction, and
     * removes those it no longer declares. The next call of an existing job is kept.
     */
    public static void declare(Connection connection, String addon, List<CronSpec> crons) throws SQLException {
        try (PreparedStatement upsert = connection.prepareStatement("""
                INSERT INTO kiln_cron (name, addon, code, interval_number, interval_type, timezone, priority, active, nextcall)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, now()))
                ON CONFLICT (name) DO UPDATE SET addon = EXCLUDED.addon, code = EXCLUDED.code,
                    interval_number = EXCLUDED.interval_number, interval_type = EXCLUDED.interval_type,
                    timezone = EXCLUDED.timezone, priority = EXCLUDED.priority, active = EXCLUDED.active""")) {
            for (CronSpec cron : crons) {
                CronJob job = cron.job();
                upsert.setString(1, cron.fullName());
                upsert.setString(2, addon);
                upsert.setString(3, cron.fullName());
                upsert.setInt(4, job.intervalNumber());
                upsert.setString(5, Schedule.unitName(job.intervalUnit()));
                upsert.setString(6, job.zone().getId());
                upsert.setInt(7, job.priority());
                upsert.setBoolean(8, job.active());
                upsert.setObject(9, job.firstCall() == null ? null : timestamp(job.firstCall()), Types.TIMESTAMP_WITH_TIMEZONE);
                upsert.addBatch();
            }
            upsert.executeBatch();
        }
        try (PreparedStatement delete = connection.prepareStatement(
                "DELETE FROM kiln_cron WHERE addon = ? AND NOT (name = ANY (?))")) {
            delete.setString(1, addon);
            delete.setArray(2, connection.createArrayOf("text", crons.stream().map(CronSpec::fullName).toArray()));
            delete.executeUpdate();
        }
    }

    /** Ends the backends {@code pids} (an abandoned call's): PostgreSQL rolls their transactions back. */
    public static void terminate(Connection connection, int[] pids) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(
                "SELECT pg_terminate_backend(pid) FROM unnest(?::int[]) AS pid")) {
            statement.setArray(1, connection.createArrayOf("int4", Arrays.stream(pids).boxed().toArray()));
            statement.execute();
        }
    }

    private static Claimed claimed(ResultSet row) throws SQLException {
        return new Claimed(row.getLong(1), row.getString(2), row.getString(3),
                Schedule.of(row.getInt(4), row.getString(5), row.getString(6), row.getObject(7, LocalTime.class)),
                instant(row, 8), row.getInt(9), instant(row, 10), instant(row, 11));
    }

    public static OffsetDateTime timestamp(Instant instant) {
        return instant.atOffset(ZoneOffset.UTC);
    }

    public static Instant instant(ResultSet row, int column) throws SQLException {
        OffsetDateTime value = row.getObject(column, OffsetDateTime.class);
        return value == null ? null : value.toInstant();
    }

    /** For logs and {@code kiln cron list}: an instant in UTC to the second, or "-". */
    public static String utc(Instant instant) {
        return instant == null ? "-" : UTC.format(instant);
    }

    private static final DateTimeFormatter UTC =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);
}
