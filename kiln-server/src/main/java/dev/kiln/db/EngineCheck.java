package dev.kiln.db;

import dev.kiln.failure.KilnException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What Kiln needs of its database server, asked once at start: transaction-scoped advisory locks
 * (cron's and the role set-up's), {@code FOR UPDATE SKIP LOCKED} (cron's claim), and {@code
 * LISTEN/NOTIFY} from the pools' server to the listener's ({@code db_listen_host}), which a pool in
 * transaction mode in between silently breaks. Each is tried for real, not read from a version
 * number: servers that speak PostgreSQL's protocol differ in what they do with it. A server in
 * recovery (a standby waiting to be promoted) is not judged: Kiln waits for its promotion; nor is
 * one that cannot be reached, or that goes away while it is asked: that is an outage, reported and
 * retried where it is met, and never a reason to refuse to serve.
 */
public final class EngineCheck {

    private static final Logger LOG = LoggerFactory.getLogger(EngineCheck.class);

    /** How long a notification may take from the pools' server to the listener. */
    static final Duration NOTIFY_WAIT = Duration.ofSeconds(10);

    private EngineCheck() {
    }

    /** A try of one capability: throws when the server lacks it. */
    @FunctionalInterface
    interface Probe {
        void run(Connection connection) throws SQLException;
    }

    /** The server went away during the check: nothing it said can be held against it. */
    static final class Unjudged extends RuntimeException {
        Unjudged(Throwable cause) {
            super(cause.getMessage(), cause, false, false);
        }
    }

    /**
     * Tries each capability on {@code pools}' server and throws a failure naming, in one line, every
     * one it lacks, with the server's own reason.
     */
    public static void verify(ConnectionPools pools) {
        List<String> missing = new ArrayList<>();
        try {
            if (!tried(pools, missing)) {
                return;
            }
            notifications(pools, missing);
        } catch (Unjudged outage) {
            LOG.warn("engine check of PostgreSQL at {} not made: {}", pools.server().hostAndPort(),
                    SqlErrors.firstLine(outage.getCause()));
            return;
        }
        if (!missing.isEmpty()) {
            throw KilnException.failure("PostgreSQL at " + pools.server().hostAndPort() + " lacks what Kiln needs: "
                    + String.join("; ", missing));
        }
    }

    /** Tries the locks on one connection; false when there is nothing to judge (no server, or one in recovery). */
    private static boolean tried(ConnectionPools pools, List<String> missing) {
        Connection first;
        try {
            first = pools.connection(ConnectionPools.MAINTENANCE_DATABASE, Isolation.READ_COMMITTED);
        } catch (KilnException unreachable) {
            return false;       // nothing to judge: each database's start says why it cannot reach the server
        }
        try (Connection connection = first) {
            if (inRecovery(connection)) {
                return false;
            }
            probe(connection, missing, "advisory locks", holder -> advisoryLock(pools, holder));
            probe(connection, missing, "SKIP LOCKED", EngineCheck::skipLocked);
            return true;
        } catch (SQLException e) {
            throw outage(e) ? new Unjudged(e) : SqlErrors.statementFailure(e, ConnectionPools.MAINTENANCE_DATABASE);
        }
    }

    /**
     * What {@code thrown} says of {@code what}: an outage ends the check unjudged; anything else is
     * something the server lacks, added to {@code missing} with its reason.
     */
    private static void lacks(List<String> missing, String what, Exception thrown) {
        if (outage(thrown)) {
            throw new Unjudged(thrown);
        }
        missing.add(what + " (" + SqlErrors.firstLine(thrown) + ")");
    }

    /** Whether {@code thrown} says the server is gone or going, rather than that it refused something. */
    private static boolean outage(Throwable thrown) {
        for (Throwable t = thrown; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof DatabaseException d && d.reason() == DatabaseException.Reason.UNREACHABLE) {
                return true;
            }
        }
        SQLException sql = SqlErrors.rootSqlException(thrown);
        return sql != null && SqlErrors.isServerUnavailable(sql.getSQLState());
    }

    private static boolean inRecovery(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery("SELECT pg_is_in_recovery()")) {
            row.next();
            boolean recovery = row.getBoolean(1);
            connection.commit();
            return recovery;
        }
    }

    /**
     * Runs {@code probe} in a transaction of its own, rolled back; a failure adds {@code what} and why.
     * The server going away meanwhile ends the check unjudged, also when only the rollback shows it:
     * once the server ended the session, the pool closes the connection, and the rollback fails with
     * a bare "Connection is closed" (in a {@code finally} it would replace the outage's failure, and
     * the start would stop as if the server lacked something).
     */
    static void probe(Connection connection, List<String> missing, String what, Probe probe) {
        try {
            probe.run(connection);
        } catch (SQLException | KilnException e) {
            lacks(missing, what, e);
        }
        try {
            connection.rollback();
        } catch (SQLException e) {
            throw new Unjudged(e);
        }
    }

    /** A lock one transaction holds must be refused to another: a lock only pretended is not. */
    private static void advisoryLock(ConnectionPools pools, Connection holder) throws SQLException {
        long key;
        try (Statement statement = holder.createStatement();
             ResultSet row = statement.executeQuery("SELECT pg_backend_pid(), pg_try_advisory_xact_lock(hashtext('kiln engine"
                     + " check'), pg_backend_pid())")) {
            row.next();
            key = row.getLong(1);
            if (!row.getBoolean(2)) {
                throw new SQLException("pg_try_advisory_xact_lock did not take a free lock");
            }
        }
        try (Connection other = pools.connection(ConnectionPools.MAINTENANCE_DATABASE, Isolation.READ_COMMITTED);
             Statement statement = other.createStatement();
             ResultSet row = statement.executeQuery("SELECT pg_try_advisory_xact_lock(hashtext('kiln engine check'), "
                     + key + ")")) {
            row.next();
            boolean taken = row.getBoolean(1);
            other.rollback();
            if (taken) {
                throw new SQLException("pg_try_advisory_xact_lock gave a second transaction the lock the first held");
            }
        }
    }

    private static void skipLocked(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute("CREATE TEMPORARY TABLE kiln_engine_check (id integer) ON COMMIT DROP");
            statement.execute("INSERT INTO kiln_engine_check VALUES (1)");
            try (ResultSet row = statement.executeQuery("SELECT id FROM kiln_engine_check FOR UPDATE SKIP LOCKED")) {
                if (!row.next()) {
                    throw new SQLException("SELECT ... FOR UPDATE SKIP LOCKED skipped a row no one had locked");
                }
            }
        }
    }

    /** A notification sent through the pools must reach a listener on the listen server. */
    private static void notifications(ConnectionPools pools, List<String> missing) {
        String channel = "kiln_engine_check_" + ProcessHandle.current().pid();
        String payload = Long.toHexString(System.nanoTime());
        String where = "db_listen_host " + pools.listenServer().hostAndPort();
        Connection opened;
        try {
            opened = pools.dedicated(ConnectionPools.MAINTENANCE_DATABASE);
        } catch (KilnException e) {
            lacks(missing, "LISTEN/NOTIFY on " + where, e);     // an outage: the listener retries by itself
            return;
        }
        try (Connection listener = opened) {
            try (Statement statement = listener.createStatement()) {
                statement.execute("LISTEN " + channel);
            }
            pools.notifyServer(channel, payload);
            PGConnection postgres = listener.unwrap(PGConnection.class);
            long deadline = System.nanoTime() + NOTIFY_WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                PGNotification[] heard = postgres.getNotifications(200);
                for (PGNotification notification : heard == null ? new PGNotification[0] : heard) {
                    if (channel.equals(notification.getName()) && payload.equals(notification.getParameter())) {
                        try (Statement statement = listener.createStatement()) {
                            statement.execute("UNLISTEN " + channel);
                        }
                        return;
                    }
                }
            }
            missing.add("LISTEN/NOTIFY (a notification sent on db_host did not reach the listener on " + where + " within "
                    + NOTIFY_WAIT.toSeconds() + " s: a pool in transaction mode there? point db_listen_host at PostgreSQL"
                    + " or a pool in session mode)");
        } catch (SQLException | RuntimeException e) {
            lacks(missing, "LISTEN/NOTIFY on " + where, e);
        }
    }
}
