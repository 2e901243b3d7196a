package dev.kiln.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.metrics.IMetricsTracker;
import com.zaxxer.hikari.metrics.PoolStats;
import dev.kiln.config.Config;
import dev.kiln.db.DatabaseException.Reason;
import dev.kiln.metrics.KilnMetrics;
import org.postgresql.ds.PGSimpleDataSource;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import javax.sql.DataSource;

/**
 * The connection pools of one process: one HikariCP pool per database, made on first use and kept
 * until {@link #closePool} or {@link #close}. All pools together never hold more than
 * {@code db_maxconn} physical connections (see {@link ConnectionLimit}).
 *
 * <p>A checked-out connection has autocommit off and is REPEATABLE READ unless asked otherwise;
 * the caller commits or rolls back, and closing it returns it to the pool (which rolls back what
 * was left open). Nothing waits longer than the connection timeout (5 s by default): a checkout
 * either succeeds or throws a one-line {@link DatabaseException} naming the database and the
 * server. Pools outlive a PostgreSQL restart: dead connections are dropped at checkout and new ones
 * opened.
 */
public final class ConnectionPools implements AutoCloseable {

    public static final Duration DEFAULT_CONNECTION_TIMEOUT = Duration.ofSeconds(5);
    /** The database Kiln connects to for server-wide work (listing, creating, dropping databases). */
    public static final String MAINTENANCE_DATABASE = "postgres";

    private final Postgres postgres;
    private final Duration connectionTimeout;
    private final ConnectionLimit limit;
    private final boolean allowSuperuser;
    private final Map<String, Pool> pools = new ConcurrentHashMap<>();
    private final Map<String, Object> creating = new ConcurrentHashMap<>();
    private final Map<String, DataSource> listenSources = new ConcurrentHashMap<>();
    private ConnectionPools replica;
    private ReplicaGuard replicaGuard;
    /** The primary's WAL position after each caller's last write, by {@code database/uid}, while a replica may lag it. */
    private final Map<String, Long> writes = new ConcurrentHashMap<>();
    private boolean readOnlyOnPrimary;
    private volatile boolean closed;

    public ConnectionPools(Postgres postgres, int maxConnections) {
        this(postgres, maxConnections, DEFAULT_CONNECTION_TIMEOUT);
    }

    public ConnectionPools(Postgres postgres, int maxConnections, Duration connectionTimeout) {
        this(postgres, maxConnections, connectionTimeout, true);
    }

    /**
     * @param allowSuperuser false to refuse a server that logs Kiln in as a superuser: every pool's
     *                       first connection checks it ({@code db_allow_superuser})
     */
    public ConnectionPools(Postgres postgres, int maxConnections, Duration connectionTimeout, boolean allowSuperuser) {
        this.allowSuperuser = allowSuperuser;
        if (connectionTimeout.toMillis() < 1_000) {
            throw new IllegalArgumentException("connection timeout must be at least 1 s, not " + connectionTimeout);
        }
        this.postgres = postgres;
        this.connectionTimeout = connectionTimeout;
        this.limit = new ConnectionLimit(maxConnections, connectionTimeout.toMillis());
    }

    /**
     * The pools of {@code config}'s server, bounded by its {@code db_maxconn}; a superuser login is
     * refused unless {@code db_allow_superuser}.
     */
    public static ConnectionPools of(Postgres postgres, Config config) {
        ConnectionPools pools = new ConnectionPools(postgres, config.dbMaxconn(), DEFAULT_CONNECTION_TIMEOUT,
                config.dbAllowSuperuser());
        if (config.dbReplicaHost() != null && !config.dbReplicaHost().isBlank()) {
            PgAddress replica;
            try {
                replica = PgAddress.forWork(config, config.dbReplicaHost(),
                        config.dbReplicaPort() != 0 ? config.dbReplicaPort() : config.dbPort());
            } catch (IllegalArgumentException malformed) {
                throw dev.kiln.failure.KilnException.usage("db_replica_host: " + malformed.getMessage());
            }
            pools.replica = new ConnectionPools(Postgres.external(replica), config.dbMaxconn(), DEFAULT_CONNECTION_TIMEOUT,
                    config.dbAllowSuperuser());
            pools.replicaGuard = new ReplicaGuard(pools.replica, config.dbReplicaMaxLag());
        }
        pools.readOnlyOnPrimary = pools.replica == null && config.dev("replica");
        return pools;
    }

    /**
     * The pools of the read-only replica ({@code db_replica_host}), bounded by their own
     * {@code db_maxconn}; empty when there is none, or while its lag guard ({@code
     * db_replica_max_lag}) finds it too far behind or unreachable. Only read-only work goes there.
     */
    public java.util.Optional<ConnectionPools> replica() {
        ReplicaGuard guard = replicaGuard;
        return replica == null || guard != null && !guard.usable() ? java.util.Optional.empty() : java.util.Optional.of(replica);
    }

    /**
     * Whether {@code uid}'s read-only work on {@code database} must stay on the primary: the user
     * wrote there lately and the replica has not replayed that far yet, so a read there would not
     * show the user their own change ({@link #wrote}).
     */
    public boolean readsOwnWritesOnPrimary(String database, long uid) {
        Long position = writes.get(database + "/" + uid);
        if (position == null || replicaGuard == null) {
            return false;
        }
        if (replicaGuard.replayed() >= position) {
            writes.remove(database + "/" + uid, position);
            return false;
        }
        return true;
    }

    /**
     * After a write of {@code uid} committed on {@code database} (with a replica only): where the
     * primary's WAL is now, past that commit; the user's reads stay here until the replica replayed it.
     */
    public void wrote(String database, long uid) {
        if (replica == null) {
            return;
        }
        try (Connection connection = connection(database, Isolation.READ_COMMITTED);
             Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")) {
            row.next();
            long position = row.getBigDecimal(1).longValue();
            connection.commit();
            if (writes.size() > 10_000) {           // callers who wrote and never read again: those the replica passed go
                long replayed = replicaGuard.replayed();
                writes.values().removeIf(p -> p <= replayed);
            }
            writes.merge(database + "/" + uid, position, Math::max);
        } catch (SQLException | RuntimeException e) {
            // the primary just took the write; if it cannot say where it is, the replica's lag guard still holds
        }
    }

    /** Whether read-only work may run elsewhere than a plain transaction here: a replica, or {@code --dev=replica}. */
    public boolean sendsReadsElsewhere() {
        return replica != null || readOnlyOnPrimary;
    }

    /**
     * {@code --dev=replica} without a replica: read-only work runs on these pools in a read-only
     * transaction, so that a write where none is expected shows, as it would on a replica.
     */
    public boolean readOnlyOnPrimary() {
        return readOnlyOnPrimary;
    }

    /** A REPEATABLE READ connection to {@code database}, autocommit off. Close it to give it back. */
    public Connection connection(String database) {
        return connection(database, Isolation.REPEATABLE_READ);
    }

    /** A connection to {@code database} at {@code isolation}, autocommit off. Close it to give it back. */
    public Connection connection(String database, Isolation isolation) {
        Pool pool = pool(database);
        Connection connection;
        try {
            connection = pool.dataSource.getConnection();
        } catch (SQLException e) {
            throw checkoutFailure(e, database);
        }
        pool.lastUsed = System.nanoTime();
        if (pool.transactionPooled) {
            // Behind a pool in transaction mode a session setting would stay on a session another client gets
            // next: the isolation is this transaction's own, its first statement.
            try (Statement begin = connection.createStatement()) {
                begin.execute(isolation == Isolation.REPEATABLE_READ ? "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
                        : "SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
            } catch (SQLException e) {
                closeQuietly(connection);
                throw SqlErrors.statementFailure(e, database);
            }
        } else if (isolation != Isolation.REPEATABLE_READ) {
            try {
                // HikariCP puts the pool's isolation back when the connection returns.
                connection.setTransactionIsolation(isolation.jdbcLevel);
            } catch (SQLException e) {
                closeQuietly(connection);
                throw SqlErrors.statementFailure(e, database);
            }
        }
        return connection;
    }

    /**
     * A connection of its own to {@code database}, outside the pool but within {@code db_maxconn},
     * autocommit on: for a listener that holds it for long and must not hand a {@code LISTEN} on to
     * the next borrower, and for the replica's watch, which must not compete with the pool for the
     * last connection each second. The caller closes it.
     */
    public Connection dedicated(String database) {
        try {
            PgAddress listen = postgres.listenAddress();
            Connection connection = listen.equals(postgres.await()) ? pool(database).guarded.getConnection()
                    : listenSource(listen, database).getConnection();
            connection.setAutoCommit(true);
            return connection;
        } catch (SQLException e) {
            throw checkoutFailure(e, database);
        }
    }

    /**
     * {@code NOTIFY channel, payload} in the maintenance database, where every Kiln process's
     * {@link Notifications} listener (one connection per process, whatever the databases it
     * serves) hears it. Call it after the commit the notification is about.
     */
    public void notifyServer(String channel, String payload) throws SQLException {
        try (Connection connection = connection(MAINTENANCE_DATABASE, Isolation.READ_COMMITTED);
             PreparedStatement notify = connection.prepareStatement("SELECT pg_notify(?, ?)")) {
            notify.setString(1, channel);
            notify.setString(2, payload);
            notify.execute();
            connection.commit();
        }
    }

    /** Whether PostgreSQL answers a {@code SELECT 1} in the maintenance database now (within the connection timeout). */
    public boolean serverAnswers() {
        try (Connection connection = connection(MAINTENANCE_DATABASE, Isolation.READ_COMMITTED);
             Statement statement = connection.createStatement()) {
            statement.execute("SELECT 1");
            connection.commit();
            return true;
        } catch (SQLException | RuntimeException e) {
            return false;
        }
    }

    /** Closes the pool of {@code database}, ending its connections (before a drop, say). No pool: nothing. */
    public void closePool(String database) {
        Pool pool = pools.remove(database);
        if (pool != null) {
            pool.dataSource.close();
        }
    }

    /** Databases that have a pool now. */
    public Set<String> pooledDatabases() {
        return new TreeSet<>(pools.keySet());
    }

    /** Physical connections open now, across all pools. */
    public int openConnections() {
        return limit.inUse();
    }

    /** {@code db_maxconn}. */
    public int maxConnections() {
        return limit.max();
    }

    /** The server the pools connect to, once it is up. */
    public PgAddress server() {
        return postgres.await();
    }

    /** The server the notification listener connects to ({@code db_listen_host}, else the pools' own). */
    public PgAddress listenServer() {
        return postgres.listenAddress();
    }

    /** Closes every pool; the embedded server is {@link Postgres}'s to stop. */
    @Override
    public void close() {
        closed = true;
        for (String database : Set.copyOf(pools.keySet())) {
            closePool(database);
        }
        if (replicaGuard != null) {
            replicaGuard.close();
        }
        if (replica != null) {
            replica.close();
        }
    }

    private Pool pool(String database) {
        if (database == null || database.isBlank()) {
            throw new DatabaseException(Reason.NO_SUCH_DATABASE, "no database given");
        }
        Pool pool = pools.get(database);
        if (pool != null) {
            return pool;
        }
        Object lock = creating.computeIfAbsent(database, d -> new Object());
        try {
            synchronized (lock) {
                pool = pools.get(database);
                if (pool == null) {
                    if (closed) {
                        throw new DatabaseException(Reason.UNREACHABLE, "database '" + database
                                + "': the connection pools are closed");
                    }
                    pool = create(database);
                    pools.put(database, pool);
                }
                return pool;
            }
        } finally {
            creating.remove(database, lock);
        }
    }

    /** A data source of {@code listen} ({@code db_listen_host}), within {@code db_maxconn}; made once per database. */
    private DataSource listenSource(PgAddress listen, String database) throws SQLException {
        DataSource source = listenSources.get(database);
        if (source == null) {
            PGSimpleDataSource driver = new PGSimpleDataSource();
            driver.setURL(listen.jdbcUrl(database));
            for (var entry : listen.driverProperties((int) Math.max(1, connectionTimeout.toSeconds())).entrySet()) {
                driver.setProperty((String) entry.getKey(), (String) entry.getValue());
            }
            source = limit.guard(driver, () -> makeRoom(database));
            DataSource other = listenSources.putIfAbsent(database, source);
            source = other != null ? other : source;
        }
        return source;
    }

    /** A pool whose database answered once: a missing database or a wrong password fails here, and is not kept. */
    private Pool create(String database) {
        PgAddress server = postgres.await();
        PGSimpleDataSource driver = new PGSimpleDataSource();
        driver.setURL(server.jdbcUrl(database));
        int connectSeconds = (int) Math.max(1, connectionTimeout.toSeconds());
        try {
            for (var entry : server.driverProperties(connectSeconds).entrySet()) {
                driver.setProperty((String) entry.getKey(), (String) entry.getValue());
            }
        } catch (SQLException e) {
            throw new DatabaseException(Reason.FAILED, "database '" + database + "': " + e.getMessage(), e);
        }
        DataSource guarded = limit.guard(driver, () -> makeRoom(database));
        // Connect once before making the pool: HikariCP's own first check sleeps a second after a failure.
        try (Connection probe = guarded.getConnection()) {
            probe.isValid(1);
            if (!allowSuperuser) {
                refuseSuperuser(probe, server);
            }
        } catch (SQLException e) {
            throw checkoutFailure(e, database);
        }
        HikariConfig config = new HikariConfig();
        config.setPoolName("kiln-" + database);
        config.setDataSource(guarded);
        config.setMaximumPoolSize(limit.max());
        config.setMinimumIdle(0);
        config.setIdleTimeout(Duration.ofMinutes(5).toMillis());
        config.setConnectionTimeout(connectionTimeout.toMillis());
        config.setValidationTimeout(Math.min(2_000, connectionTimeout.toMillis() / 2));
        config.setInitializationFailTimeout(-1);
        config.setAutoCommit(false);
        if (!server.transactionPooled()) {
            config.setTransactionIsolation("TRANSACTION_REPEATABLE_READ");     // a session setting: see connection()
        }
        if (KilnMetrics.get() != null) {
            config.setMetricsTrackerFactory((name, stats) -> new PoolMetrics(database, stats));
        }
        return new Pool(new HikariDataSource(config), guarded, server.transactionPooled());
    }

    /** HikariCP's hook, feeding a pool's acquire times, timeouts and sizes to the process's metrics. */
    private static final class PoolMetrics implements IMetricsTracker, KilnMetrics.PoolView {

        private final String database;
        private final PoolStats stats;

        PoolMetrics(String database, PoolStats stats) {
            this.database = database;
            this.stats = stats;
            KilnMetrics.pool(database, this);
        }

        @Override
        public void recordConnectionAcquiredNanos(long nanos) {
            KilnMetrics.connectionAcquired(database, nanos);
        }

        @Override
        public void recordConnectionTimeout() {
            KilnMetrics.connectionTimedOut(database);
        }

        @Override
        public void close() {
            KilnMetrics.pool(database, null);
        }

        @Override
        public int active() {
            return stats.getActiveConnections();
        }

        @Override
        public int idle() {
            return stats.getIdleConnections();
        }

        @Override
        public int waiting() {
            return stats.getPendingThreads();
        }
    }

    /**
     * Odoo refuses to run as {@code postgres}; Kiln refuses any superuser login: SQL that reaches the
     * server (an addon's, a restored backup's {@code CHECK} calling {@code COPY ... TO PROGRAM})
     * would run with every right on the server and its host.
     */
    private static void refuseSuperuser(Connection probe, PgAddress server) throws SQLException {
        try (Statement statement = probe.createStatement();
             ResultSet row = statement.executeQuery("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")) {
            if (row.next() && row.getBoolean(1)) {
                throw new DatabaseException(Reason.AUTHENTICATION, "PostgreSQL at " + server.hostAndPort() + " logs Kiln in as '"
                        + server.effectiveUser() + "', a superuser: refused, as any SQL reaching the server could then run"
                        + " programs on its host; give db_user a role that owns Kiln's databases and may create them"
                        + " (CREATE ROLE ... LOGIN CREATEDB), or pass --db-allow-superuser");
            }
        }
    }

    /** No permit free: close idle connections of other databases, least recently used pool first. */
    private void makeRoom(String forDatabase) {
        pools.entrySet().stream()
                .filter(e -> !e.getKey().equals(forDatabase))
                .map(Map.Entry::getValue)
                .sorted(Comparator.comparingLong(p -> p.lastUsed))
                .takeWhile(p -> limit.inUse() >= limit.max())
                .forEach(p -> p.dataSource.getHikariPoolMXBean().softEvictConnections());
    }

    private DatabaseException checkoutFailure(Exception e, String database) {
        SQLException sql = SqlErrors.rootSqlException(e);
        if (sql != null && ConnectionLimit.TOO_MANY.equals(sql.getSQLState())) {
            return new DatabaseException(Reason.POOL_EXHAUSTED, "database '" + database + "': no connection came free"
                    + " within " + connectionTimeout.toSeconds() + " s (" + SqlErrors.firstLine(sql) + ")", e);
        }
        if (sql == null || (sql.getSQLState() == null && sql == e)) {
            // HikariCP's own timeout with no connection failure behind it: the pool was full.
            return new DatabaseException(Reason.POOL_EXHAUSTED, "database '" + database + "': no connection came"
                    + " free within " + connectionTimeout.toSeconds() + " s (db_maxconn = " + limit.max() + ")", e);
        }
        return SqlErrors.connectionFailure(e, database, postgres.await());
    }

    private static void closeQuietly(Connection connection) {
        try {
            connection.close();
        } catch (SQLException ignored) {
            // Giving it back is all that is left to do.
        }
    }

    private static final class Pool {
        final HikariDataSource dataSource;
        final DataSource guarded;
        /** Behind a pooler in transaction mode: each transaction sets its isolation itself. */
        final boolean transactionPooled;
        volatile long lastUsed = System.nanoTime();

        Pool(HikariDataSource dataSource, DataSource guarded, boolean transactionPooled) {
            this.dataSource = dataSource;
            this.guarded = guarded;
            this.transactionPooled = transactionPooled;
        }
    }
}
