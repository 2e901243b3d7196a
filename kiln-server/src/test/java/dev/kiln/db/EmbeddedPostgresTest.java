package dev.kiln.db;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The embedded PostgreSQL's life: first start, reuse of its data, a second user, a restart under a pool. */
class EmbeddedPostgresTest {

    @TempDir
    Path dataDir;

    @Test
    void dataWrittenByOneStartIsSeenByTheNext() throws Exception {
        try (Postgres first = Postgres.startEmbedded(dataDir);
             ConnectionPools pools = new ConnectionPools(first, 4)) {
            assertThat(first.await().port()).isPositive();
            assertThat(first.ownsServer()).isTrue();
            Transactions.inTransaction(pools, "postgres", c -> execute(c, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('first')"));
        }
        assertThat(dataDir.resolve("postgres-15/PG_VERSION")).hasContent("15");
        try (Postgres second = Postgres.startEmbedded(dataDir);
             ConnectionPools pools = new ConnectionPools(second, 4)) {
            String value = Transactions.inTransaction(pools, "postgres", c -> queryOne(c, "SELECT v FROM kept"));
            assertThat(value).isEqualTo("first");
        }
    }

    @Test
    void aSecondUserOfTheDataDirUsesTheRunningServerAndLeavesItRunning() {
        try (Postgres owner = Postgres.startEmbedded(dataDir)) {
            PgAddress address = owner.await();
            try (Postgres second = Postgres.startEmbedded(dataDir)) {
                assertThat(second.await().port()).isEqualTo(address.port());
                assertThat(second.ownsServer()).isFalse();
            }
            assertThat(EmbeddedServer.answers(address.port())).isTrue();
        }
    }

    @Test
    void anotherProcessOnTheSameDataDirUsesTheRunningServerWithoutStoppingIt() throws Exception {
        try (Postgres owner = Postgres.startEmbedded(dataDir)) {
            int port = owner.await().port();
            Process child = childJvm();
            String output = new String(child.getInputStream().readAllBytes());
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(output).contains("port=" + port + " owner=false");
            assertThat(EmbeddedServer.answers(port)).isTrue();
        }
    }

    @Test
    void aServerLeftRunningByAKilledKilnIsAdoptedAndStoppedByTheNext() throws Exception {
        Process child = childJvm("hold");
        try {
            String line = new BufferedReader(new InputStreamReader(child.getInputStream())).readLine();
            assertThat(line).startsWith("port=").endsWith("owner=true");
            int port = Integer.parseInt(line.substring(5, line.indexOf(' ')));
            child.destroyForcibly().waitFor();
            assertThat(EmbeddedServer.answers(port)).isTrue();

            try (Postgres next = Postgres.startEmbedded(dataDir)) {
                assertThat(next.await().port()).isEqualTo(port);
                assertThat(next.ownsServer()).isTrue();
            }
            assertThat(EmbeddedServer.answers(port)).isFalse();
            assertThat(dataDir.resolve("postgres-15/postmaster.pid")).doesNotExist();
        } finally {
            child.destroyForcibly();
        }
    }

    private Process childJvm(String... extra) throws IOException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "--enable-native-access=ALL-UNNAMED",
                AttachMain.class.getName(), dataDir.toString()));
        command.addAll(List.of(extra));
        return new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    @Test
    void aPoolReconnectsAfterThePostgresRestarts() throws Exception {
        Postgres postgres = Postgres.startEmbedded(dataDir);
        int port = postgres.await().port();
        try (ConnectionPools pools = new ConnectionPools(postgres, 4, Duration.ofSeconds(1))) {
            assertThat(Transactions.<String>inTransaction(pools, "postgres", c -> queryOne(c, "SELECT 'before'"))).isEqualTo("before");
            postgres.close();
            assertThat(EmbeddedServer.answers(port)).isFalse();
            // The first use may get a pooled connection that died with the server, or find the server gone.
            assertThatThrownBy(() -> Transactions.inTransaction(pools, "postgres", c -> queryOne(c, "SELECT 1")))
                    .isInstanceOfSatisfying(DatabaseException.class,
                            e -> assertThat(e.reason()).isEqualTo(DatabaseException.Reason.UNREACHABLE));
            assertThatThrownBy(() -> pools.connection("postgres").close())
                    .isInstanceOf(DatabaseException.class)
                    .hasMessageContaining("cannot reach PostgreSQL at localhost:" + port);

            postgres = Postgres.startEmbedded(dataDir);
            assertThat(postgres.await().port()).isEqualTo(port);
            assertThat(Transactions.<String>inTransaction(pools, "postgres", c -> queryOne(c, "SELECT 'after'"))).isEqualTo("after");
        } finally {
            postgres.close();
        }
    }

    @Test
    void aHalfMadeDataFolderIsRefusedWithOneLine() throws Exception {
        Files.createDirectories(dataDir.resolve("postgres-15"));
        Files.writeString(dataDir.resolve("postgres-15/stray"), "left by an interrupted initdb");
        try (Postgres postgres = Postgres.startEmbedded(dataDir)) {
            assertThatThrownBy(() -> postgres.await(Duration.ofSeconds(20)))
                    .isInstanceOf(DatabaseException.class)
                    .hasMessageContaining("is incomplete")
                    .hasMessageNotContaining("\n");
        }
    }

    static Void execute(Connection connection, String sql) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
        return null;
    }

    static String queryOne(Connection connection, String sql) throws SQLException {
        try (Statement statement = connection.createStatement(); ResultSet rows = statement.executeQuery(sql)) {
            rows.next();
            return rows.getString(1);
        }
    }
}
