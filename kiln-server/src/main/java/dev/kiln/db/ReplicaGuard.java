package dev.kiln.db;

import dev.kiln.metrics.KilnMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

/**
 * The replica's watch: every second, what the replica has replayed, and how far its replay is
 * behind what it received from the primary. With a lag guard ({@code db_replica_max_lag}), further
 * behind than the limit, or unreachable, and read-only work goes to the primary until the replica
 * has caught up; each change is logged once and counted ({@code kiln_db_replica_switches_total}).
 * What it replayed decides where a caller who just wrote may read ({@link #replayed}).
 */
final class ReplicaGuard implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ReplicaGuard.class);
    private static final Duration EVERY = Duration.ofSeconds(1);
    /**
     * Seconds since the last transaction the replica replayed, while it has received more than it
     * replayed; 0 when it replayed all it received (an idle primary sends nothing to be behind on).
     */
    private static final String LAG = """
            SELECT CASE WHEN pg_last_wal_receive_lsn() IS DISTINCT FROM pg_last_wal_replay_lsn()
                        THEN COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
                        ELSE 0 END,
                   pg_last_wal_replay_lsn() - '0/0'::pg_lsn""";

    private final ConnectionPools replica;
    /** The most seconds behind before the replica is left; 0: no limit (watched for {@link #replayed} only). */
    private final int maxLagSeconds;
    private final Thread thread;
    private volatile boolean usable = true;
    /** Whether the last look could read the replica's position; a change is logged once either way. */
    private boolean reachable = true;
    /** What the replica had replayed at the last look, as a WAL position; -1 before the first. */
    private volatile long replayed = -1;
    private volatile boolean running = true;
    /**
     * The watch's own connection, kept from one look to the next (autocommit on). Taken from the
     * replica's pools each second instead, it would compete with the read-only work for the last
     * of {@code db_maxconn}: making room for it closed every connection of the busy pool, and under
     * load the pool opened dozens of new sessions a second.
     */
    private Connection watching;

    ReplicaGuard(ConnectionPools replica, int maxLagSeconds) {
        this.replica = replica;
        this.maxLagSeconds = maxLagSeconds;
        KilnMetrics.replicaInUse(true, false);
        this.thread = Thread.ofPlatform().daemon().name("kiln-replica-lag").start(this::run);
    }

    /** Whether read-only work may go to the replica now. */
    boolean usable() {
        return usable;
    }

    /** The WAL position the replica had replayed at the last look (a second ago at most); -1 when unknown. */
    long replayed() {
        return replayed;
    }

    private void run() {
        try {
            while (running) {
                check();
                try {
                    Thread.sleep(EVERY);
                } catch (InterruptedException e) {
                    return;                     // closed
                }
            }
        } finally {
            closeWatching();
        }
    }

    private void closeWatching() {
        if (watching != null) {
            try {
                watching.close();
            } catch (SQLException e) {
                // gone with its server: nothing left to give back
            }
            watching = null;
        }
    }

    private void check() {
        String state;
        boolean ok;
        boolean read;
        try {
            if (watching == null) {
                watching = replica.dedicated(ConnectionPools.MAINTENANCE_DATABASE);
            }
            try (Statement statement = watching.createStatement(); ResultSet row = statement.executeQuery(LAG)) {
                row.next();
                double lag = row.getDouble(1);
                replayed = row.getBigDecimal(2) == null ? -1 : row.getBigDecimal(2).longValue();
                ok = maxLagSeconds == 0 || lag <= maxLagSeconds;
                state = String.format("replays %.1f s behind the primary (db_replica_max_lag %d s)", lag, maxLagSeconds);
                read = true;
            }
        } catch (SQLException | RuntimeException e) {
            closeWatching();                // the next look connects again
            ok = maxLagSeconds == 0;        // no guard: the replica stays in use, as without a watch
            replayed = -1;
            state = "cannot be reached (" + SqlErrors.firstLine(e) + ")";
            read = false;
        }
        if (read != reachable && running && maxLagSeconds == 0) {
            // without a lag guard the replica stays in use, as Odoo keeps it: said once each way,
            // with the option that would send read-only work to the primary meanwhile
            reachable = read;
            if (read) {
                LOG.info("replica: answers again");
            } else {
                LOG.warn("replica: {}: read-only work sent there fails until it answers (db_replica_max_lag would send"
                        + " it to the primary meanwhile)", state);
            }
        }
        if (ok != usable && running) {
            usable = ok;
            KilnMetrics.replicaInUse(ok, true);
            if (ok) {
                LOG.info("replica: {}: read-only work goes to it again", state);
            } else {
                LOG.warn("replica: {}: read-only work goes to the primary until it catches up", state);
            }
        }
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
    }
}
