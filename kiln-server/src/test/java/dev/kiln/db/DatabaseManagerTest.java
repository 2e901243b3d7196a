package dev.kiln.db;

import dev.kiln.db.DatabaseException.Reason;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;

import static dev.kiln.db.EmbeddedPostgresTest.execute;
import static dev.kiln.db.EmbeddedPostgresTest.queryOne;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The database manager against one embedded PostgreSQL. */
class DatabaseManagerTest {

    @TempDir
    static Path dataDir;
    static Postgres postgres;
    static ConnectionPools pools;
    static DatabaseManager manager;

    @BeforeAll
    static void startPostgres() {
        postgres = Postgres.startEmbedded(dataDir);
        pools = new ConnectionPools(postgres, 8);
        manager = new DatabaseManager(pools, "template0");
    }

    @AfterAll
    static void stopPostgres() {
        pools.close();
        postgres.close();
    }

    @Test
    void createdDatabasesAreListedAndDroppedOnesAreNot() {
        manager.create("mgr_one");
        manager.create("mgr.two-2");
        assertThat(manager.list()).contains("mgr_one", "mgr.two-2").doesNotContain("postgres", "template0", "template1");
        assertThat(manager.exists("mgr_one")).isTrue();
        String encoding = Transactions.inTransaction(pools, "mgr_one", c -> queryOne(c,
                "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()"));
        assertThat(encoding).isEqualTo("UTF8");

        manager.drop("mgr_one");
        manager.drop("mgr.two-2");
        assertThat(manager.list()).doesNotContain("mgr_one", "mgr.two-2");
        assertThat(manager.exists("mgr_one")).isFalse();
    }

    @Test
    void dropEndsOpenSessionsOnTheDatabase() throws Exception {
        manager.create("mgr_busy");
        try (Connection open = pools.connection("mgr_busy")) {
            execute(open, "SELECT 1");
            manager.drop("mgr_busy");
        }
        assertThat(manager.exists("mgr_busy")).isFalse();
        assertThat(pools.pooledDatabases()).doesNotContain("mgr_busy");
    }

    /**
     * A role that is not a superuser may not end a session it does not own, and so not drop
     * {@code WITH (FORCE)} while one is there (an autovacuum worker, in real life): the drop then
     * waits, as PostgreSQL's plain drop does, for the session to end.
     */
    @Test
    void aDropByAnOrdinaryRoleOutwaitsASessionItMayNotEnd() throws Exception {
        Transactions.inTransaction(pools, "postgres", c -> execute(c, "CREATE ROLE mgr_owner LOGIN CREATEDB"));
        int port = postgres.await().port();
        try (ConnectionPools own = new ConnectionPools(Postgres.external(new PgAddress("localhost", port, "mgr_owner", "", "disable")), 4)) {
            DatabaseManager owner = new DatabaseManager(own, "template0");
            owner.create("mgr_guarded");
            Thread other = Thread.ofPlatform().start(() -> {
                try (Connection superuser = DriverManager.getConnection("jdbc:postgresql://localhost:" + port + "/mgr_guarded",
                        "postgres", "")) {
                    execute(superuser, "SELECT pg_sleep(3)");      // a session that lasts a moment, then ends
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
            await().atMost(Duration.ofSeconds(30)).until(() -> Transactions.<String>inTransaction(pools, "postgres", c -> queryOne(c,
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = 'mgr_guarded' AND usename = 'postgres'")).equals("1"));
            owner.drop("mgr_guarded");
            other.join();
            assertThat(manager.exists("mgr_guarded")).isFalse();
        }
    }

    @Test
    void aDuplicateHasTheSourcesDataAndTheSourceStaysUsable() {
        manager.create("mgr_src");
        Transactions.inTransaction(pools, "mgr_src", c -> execute(c, "CREATE TABLE t (v text); INSERT INTO t VALUES ('copied')"));
        manager.duplicate("mgr_src", "mgr_copy");
        assertThat(Transactions.<String>inTransaction(pools, "mgr_copy", c -> queryOne(c, "SELECT v FROM t"))).isEqualTo("copied");
        assertThat(Transactions.<String>inTransaction(pools, "mgr_src", c -> queryOne(c, "SELECT v FROM t"))).isEqualTo("copied");
        manager.drop("mgr_copy");
        manager.drop("mgr_src");
    }

    @Test
    void badNamesAreRefusedWithOneLine() {
        for (String bad : new String[] {"x", "-leading", "_leading", "has space", "semi;colon", "quote\"d", "", "a".repeat(64)}) {
            assertThatThrownBy(() -> manager.create(bad))
                    .as(bad)
                    .isInstanceOfSatisfying(DatabaseException.class, e -> assertThat(e.reason()).isEqualTo(Reason.BAD_NAME))
                    .hasMessageStartingWith("invalid database name '" + bad + "'")
                    .hasMessageNotContaining("\n");
        }
        assertThatThrownBy(() -> manager.duplicate("postgres", "bad name")).hasMessageStartingWith("invalid database name");
        assertThatThrownBy(() -> manager.restore("bad name", dataDir)).hasMessageStartingWith("invalid database name");
    }

    @Test
    void existingNamesAreRefusedAndMissingOnesNamed() throws Exception {
        manager.create("mgr_taken");
        assertThatThrownBy(() -> manager.create("mgr_taken"))
                .isInstanceOfSatisfying(DatabaseException.class, e -> assertThat(e.reason()).isEqualTo(Reason.ALREADY_EXISTS))
                .hasMessage("database 'mgr_taken' already exists");
        assertThatThrownBy(() -> manager.duplicate("postgres", "mgr_taken")).hasMessage("database 'mgr_taken' already exists");
        Path archive = Files.createTempFile(dataDir, "any", ".dump");
        assertThatThrownBy(() -> manager.restore("mgr_taken", archive)).hasMessage("database 'mgr_taken' already exists");
        manager.drop("mgr_taken");

        assertThatThrownBy(() -> manager.drop("mgr_missing"))
                .isInstanceOfSatisfying(DatabaseException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NO_SUCH_DATABASE))
                .hasMessage("database 'mgr_missing' does not exist");
        assertThatThrownBy(() -> manager.duplicate("mgr_missing", "mgr_new")).hasMessage("database 'mgr_missing' does not exist");
        assertThatThrownBy(() -> manager.backup("mgr_missing", dataDir.resolve("x.dump"))).hasMessage("database 'mgr_missing' does not exist");
        assertThat(manager.exists("mgr_new")).isFalse();
    }

    @Test
    void aBackupRestoresIntoANewDatabaseWithTheSameData() throws Exception {
        manager.create("mgr_saved");
        Transactions.inTransaction(pools, "mgr_saved", c -> execute(c, "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept ✓')"));
        Path archive = dataDir.resolve("mgr_saved.dump");
        manager.backup("mgr_saved", archive);
        assertThat(archive).isNotEmptyFile();
        assertThat(Files.readAllBytes(archive)).startsWith("PGDMP".getBytes());

        manager.restore("mgr_restored", archive);
        assertThat(Transactions.<String>inTransaction(pools, "mgr_restored", c -> queryOne(c, "SELECT v FROM t"))).isEqualTo("kept ✓");
        manager.drop("mgr_restored");
        manager.drop("mgr_saved");
    }

    @Test
    void aFailedRestoreLeavesNoDatabaseBehind() throws Exception {
        Path garbage = dataDir.resolve("garbage.dump");
        Files.writeString(garbage, "not a pg_dump archive");
        assertThatThrownBy(() -> manager.restore("mgr_broken", garbage))
                .isInstanceOfSatisfying(DatabaseException.class, e -> assertThat(e.reason()).isEqualTo(Reason.FAILED))
                .hasMessageStartingWith("pg_restore into database 'mgr_broken' failed: ")
                .hasMessageNotContaining("\n");
        assertThat(manager.exists("mgr_broken")).isFalse();

        assertThatThrownBy(() -> manager.restore("mgr_broken", dataDir.resolve("absent.dump")))
                .hasMessageContaining("does not exist or cannot be read");
        assertThat(manager.exists("mgr_broken")).isFalse();
    }

    @Test
    void theServerIsTheEmbeddedMajor() {
        assertThat(manager.serverMajorVersion()).isEqualTo(EmbeddedServer.MAJOR);
    }
}
