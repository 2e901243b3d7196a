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

/**
 * What Kiln needs of its database server, asked once at start: transaction-scoped advisory locks
 * (cron's and the role set-up's), {@code FOR UPDATE SKIP LOCKED} (cron's claim), and {@code
 * LISTEN/NOTIFY} from the pools' server to the listener's ({@code db_listen_host}), which a pool in
 * transaction mode in between silently breaks. Each is tried for real, not read from a version
 * number: servers that speak PostgreSQL's protocol differ in what they do with it. A server in
 * recovery (a standby waiting to be promoted) is not judged: Kiln waits for its promotion; nor is
 * one that cannot be reached: that is an outage, reported and retried where it is met.
 */
public final class EngineCheck {

    /** How long a notification may take from the pools' server to the listener. */
    static final Duration NOTIFY_WAIT = Duration.ofSeconds(10);

    private EngineCheck() {
    }

    /** A try of one capability: throws when the server lacks it. */
    @FunctionalInterface
    private interface Probe {
        void run(Connection connection) throws SQLException;
    }

    /**
     * Tries each capability on {@code pools}' server and throws a failure naming, in one line, every
     * one it lacks, with the server's own reason.
     */
    public static void verify(ConnectionPools pools) {
        List<String> missing = new ArrayList<>();
        Connection first;
        try {
            first = pools.connection(ConnectionPools.MAINTENANCE_DATABASE, Isolation.READ_COMMITTED);
        } catch (KilnException unreachable) {
            return;         // nothing to judge: each database's start says why it cannot reach the server
        }
        try (Connection connection = first) {
            if (inRecovery(connection)) {
                return;
            }
            probe(connection, missing, "advisory locks", holder -> advisoryLock(pools, holder));
            probe(connection, missing, "SKIP LOCKED", EngineCheck::skipLocked);
        } catch (SQLException e) {
            throw SqlErrors.statementFailure(e, ConnectionPools.MAINTENANCE_DATABASE);
        }
        notifications(pools, missing);
        if (!missing.isEmpty()) {
            throw KilnException.failure("PostgreSQL at " + pools.server().hostAndPort() + " lacks what Kiln needs: "
                    + String.join("; ", missing));
        }
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

    /** Runs {@code probe} in a transaction of its own, rolled back; a failure adds {@code what} and why. */
    private static void probe(Connection connection, List<String> missing, String what, Probe probe) throws SQLException {
        try {
            probe.run(connection);
        } catch (SQLException e) {
            missing.add(what + " (" + SqlErrors.firstLine(e) + ")");
        } finally {
            connection.rollback();
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
        } catch (KilnException unreachable) {
            return;         // the listener says so itself, and connects again until it can
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
            missing.add("LISTEN/NOTIFY on " + where + " (" + SqlErrors.firstLine(e) + ")");
        }
    }
}
