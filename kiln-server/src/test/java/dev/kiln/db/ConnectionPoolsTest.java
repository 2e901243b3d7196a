package dev.kiln.db;

import dev.kiln.db.DatabaseException.Reason;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.kiln.db.EmbeddedPostgresTest.execute;
import static dev.kiln.db.EmbeddedPostgresTest.queryOne;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Pools, db_maxconn, connection errors and retried transactions, on one embedded PostgreSQL. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)     // patience: a wait that never ends fails here, not the suite
class ConnectionPoolsTest {

    @TempDir
    static Path dataDir;
    static Postgres postgres;
    static ConnectionPools admin;

    @BeforeAll
    static void startPostgres() {
        postgres = Postgres.startEmbedded(dataDir);
        admin = new ConnectionPools(postgres, 8);
        DatabaseManager manager = new DatabaseManager(admin, "template0");
        manager.create("pool_a");
        manager.create("pool_b");
        Transactions.inTransaction(admin, "pool_a", c -> execute(c, "CREATE TABLE counter (id int PRIMARY KEY, n int);"
                + " INSERT INTO counter VALUES (1, 0)"));
    }

    @AfterAll
    static void stopPostgres() {
        admin.close();
        postgres.close();
    }

    @Test
    void dbMaxconnBoundsThePhysicalConnectionsOfAllPoolsTogether() throws Exception {
        admin.closePool("pool_a");
        admin.closePool("pool_b");
        try (ConnectionPools pools = new ConnectionPools(postgres, 3, Duration.ofSeconds(1))) {
            List<Connection> held = new ArrayList<>();
            held.add(pools.connection("pool_a"));
            held.add(pools.connection("pool_a"));
            held.add(pools.connection("pool_b"));
            assertThat(pools.openConnections()).isEqualTo(3);
            assertThat(serverSideConnections()).isEqualTo(3);
            assertThatThrownBy(() -> pools.connection("pool_b"))
                    .isInstanceOfSatisfying(DatabaseException.class, e -> assertThat(e.reason()).isEqualTo(Reason.POOL_EXHAUSTED))
                    .hasMessageStartingWith("database 'pool_b': no connection came free within 1 s");
            assertThat(serverSideConnections()).isEqualTo(3);

            // Idle connections of another database make room.
            held.get(0).close();
            held.get(1).close();
            held.add(pools.connection("pool_b"));
            held.add(pools.connection("pool_b"));
            assertThat(pools.openConnections()).isEqualTo(3);
            assertThat(serverSideConnections()).isLessThanOrEqualTo(3);
            for (Connection connection : held) {
                connection.close();
            }
        }
    }

    @Test
    void closingAPoolGivesBackThePermitsOfItsBusyConnections() throws Exception {
        try (ConnectionPools pools = new ConnectionPools(postgres, 2, Duration.ofSeconds(1))) {
            Connection busy = pools.connection("pool_b");
            pools.connection("pool_b").close();
            assertThat(pools.openConnections()).isEqualTo(2);
            pools.closePool("pool_b");
            await().atMost(Duration.ofSeconds(5)).until(() -> pools.openConnections() == 0);
            assertThatThrownBy(() -> execute(busy, "SELECT 1")).isInstanceOf(SQLException.class);
            busy.close();
            pools.connection("pool_a").close();
            assertThat(pools.openConnections()).isEqualTo(1);
        }
    }

    @Test
    void aMissingDatabaseIsNamedAtOnce() {
        assertThatThrownBy(() -> admin.connection("no_such_db"))
                .isInstanceOfSatisfying(DatabaseException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NO_SUCH_DATABASE))
                .hasMessageStartingWith("database 'no_such_db' does not exist");
        assertThat(admin.pooledDatabases()).doesNotContain("no_such_db");
    }

    @Test
    void aWrongPasswordIsNamedWithTheUser() throws Exception {
        Transactions.inTransaction(admin, "postgres", c -> execute(c, "CREATE ROLE kiln_pw LOGIN PASSWORD 'right'"));
        Path hba = dataDir.resolve("postgres-15/pg_hba.conf");
        Files.writeString(hba, "host all kiln_pw 127.0.0.1/32 scram-sha-256\nhost all kiln_pw ::1/128 scram-sha-256\n"
                + Files.readString(hba));
        try (Connection c = admin.connection("postgres", Isolation.READ_COMMITTED)) {
            c.setAutoCommit(true);
            execute(c, "SELECT pg_reload_conf()");
        }
        int port = postgres.await().port();
        try (ConnectionPools wrong = new ConnectionPools(
                Postgres.external(new PgAddress("localhost", port, "kiln_pw", "wrong", "disable")), 2);
             ConnectionPools right = new ConnectionPools(
                Postgres.external(new PgAddress("localhost", port, "kiln_pw", "right", "disable")), 2)) {
            assertThatThrownBy(() -> wrong.connection("postgres"))
                    .isInstanceOfSatisfying(DatabaseException.class, e -> assertThat(e.reason()).isEqualTo(Reason.AUTHENTICATION))
                    .hasMessageStartingWith("password authentication failed for user 'kiln_pw' on localhost:" + port);
            String user = Transactions.inTransaction(right, "postgres", c -> queryOne(c, "SELECT current_user"));
            assertThat(user).isEqualTo("kiln_pw");
        }
    }

    @Test
    void anUnreachableServerIsNamedWithinTheConnectionTimeout() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        try (ConnectionPools pools = new ConnectionPools(
                Postgres.external(new PgAddress("127.0.0.1", closedPort, "kiln", "x", "disable")), 2)) {
            assertThatThrownBy(() -> pools.connection("any"))
                    .isInstanceOfSatisfying(DatabaseException.class, e -> assertThat(e.reason()).isEqualTo(Reason.UNREACHABLE))
                    .hasMessageStartingWith("cannot reach PostgreSQL at 127.0.0.1:" + closedPort + " for database 'any'")
                    .hasMessageNotContaining("\n");
        }
    }

    @Test
    void connectionsAreRepeatableReadUnlessReadCommittedIsAsked() throws Exception {
        try (Connection c = admin.connection("pool_a")) {
            assertThat(c.getAutoCommit()).isFalse();
            assertThat(queryOne(c, "SHOW transaction_isolation")).isEqualTo("repeatable read");
        }
        try (Connection c = admin.connection("pool_a", Isolation.READ_COMMITTED)) {
            assertThat(queryOne(c, "SHOW transaction_isolation")).isEqualTo("read committed");
        }
        try (Connection c = admin.connection("pool_a")) {
            assertThat(queryOne(c, "SHOW transaction_isolation")).isEqualTo("repeatable read");
        }
    }

    @Test
    void aConcurrentUpdateIsRetriedOnAFreshTransaction() {
        AtomicInteger tries = new AtomicInteger();
        Transactions quick = new Transactions(Transactions.MAX_TRIES, Duration.ofMillis(5));
        int seen = quick.run(admin, "pool_a", Isolation.REPEATABLE_READ, c -> {
            int snapshot = Integer.parseInt(queryOne(c, "SELECT n FROM counter WHERE id = 1"));
            if (tries.incrementAndGet() == 1) {
                // Another transaction commits a change to the row after this one took its snapshot.
                Transactions.inTransaction(admin, "pool_a", other -> execute(other, "UPDATE counter SET n = n + 1 WHERE id = 1"));
            }
            execute(c, "UPDATE counter SET n = n + 10 WHERE id = 1");
            return snapshot;
        });
        assertThat(tries).hasValue(2);
        assertThat(seen).isEqualTo(1);
    }

    @Test
    void aSerializationFailureIsRetriedUntilItPasses() {
        AtomicInteger tries = new AtomicInteger();
        Transactions quick = new Transactions(Transactions.MAX_TRIES, Duration.ofMillis(5));
        String result = quick.run(admin, "pool_a", Isolation.REPEATABLE_READ, c -> {
            if (tries.incrementAndGet() < 3) {
                raise(c, "serialization_failure");
            }
            return "done";
        });
        assertThat(result).isEqualTo("done");
        assertThat(tries).hasValue(3);
    }

    @Test
    void concurrencyFailuresGiveUpAfterFiveTries() {
        AtomicInteger tries = new AtomicInteger();
        Transactions quick = new Transactions(Transactions.MAX_TRIES, Duration.ofMillis(5));
        assertThatThrownBy(() -> quick.run(admin, "pool_a", Isolation.REPEATABLE_READ, c -> {
            raise(c, tries.incrementAndGet() % 2 == 0 ? "deadlock_detected" : "lock_not_available");
            return null;
        }))
                .isInstanceOfSatisfying(DatabaseException.class, e -> assertThat(e.reason()).isEqualTo(Reason.CONCURRENCY))
                .hasMessageStartingWith("database 'pool_a': gave up after 5 tries");
        assertThat(tries).hasValue(5);
    }

    @Test
    void otherSqlErrorsAreNotRetriedAndRollBack() throws Exception {
        AtomicInteger tries = new AtomicInteger();
        assertThatThrownBy(() -> Transactions.inTransaction(admin, "pool_a", c -> {
            tries.incrementAndGet();
            execute(c, "UPDATE counter SET n = -1 WHERE id = 1");
            return execute(c, "SELECT no_such_column FROM counter");
        }))
                .isInstanceOfSatisfying(DatabaseException.class, e -> assertThat(e.reason()).isEqualTo(Reason.FAILED))
                .hasMessageContaining("no_such_column");
        assertThat(tries).hasValue(1);
        String n = Transactions.inTransaction(admin, "pool_a", c -> queryOne(c, "SELECT n FROM counter WHERE id = 1"));
        assertThat(n).isNotEqualTo("-1");
    }

    private static void raise(Connection c, String condition) throws SQLException {
        execute(c, "DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '" + condition + "'; END $$");
    }

    private static int serverSideConnections() {
        String count = Transactions.inTransaction(admin, "postgres", Isolation.READ_COMMITTED, c -> queryOne(c,
                "SELECT count(*) FROM pg_stat_activity WHERE datname IN ('pool_a', 'pool_b') AND pid <> pg_backend_pid()"));
        return Integer.parseInt(count);
    }
}
