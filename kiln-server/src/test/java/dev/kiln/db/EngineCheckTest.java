package dev.kiln.db;

import dev.kiln.config.Config;
import dev.kiln.config.ConfigLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.kiln.db.EmbeddedPostgresTest.queryOne;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The start's check of what Kiln needs of PostgreSQL judges the server only on what it answers: a
 * server that goes away while it is asked is an outage, which Kiln serves through, never a refusal
 * that ends the process.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)     // patience: a wait that never ends fails here, not the suite
class EngineCheckTest {

    @TempDir
    Path dir;

    @Test
    void aServerWithAllKilnNeedsPasses() {
        Config config = config(Map.of());
        try (ConnectionPools pools = ConnectionPools.of(Postgres.start(config), config)) {
            EngineCheck.verify(pools);
            assertThat(pools.serverAnswers()).isTrue();
        }
    }

    @Test
    void aListenerEndedWhileTheCheckWaitsIsAnOutageNotARefusal() throws Exception {
        // the listener on another server, which never hears db_host's NOTIFY: the check waits on it
        try (Postgres other = Postgres.startEmbedded(dir);
             ConnectionPools elsewhere = new ConnectionPools(other, 2, Duration.ofSeconds(30), true)) {
            PgAddress listen = other.await();
            Config config = config(Map.of("db_listen_host", "localhost", "db_listen_port", String.valueOf(listen.port())));
            try (ConnectionPools pools = ConnectionPools.of(Postgres.start(config), config)) {
                CompletableFuture<Void> check = CompletableFuture.runAsync(() -> EngineCheck.verify(pools),
                        command -> Thread.ofPlatform().name("engine-check").start(command));
                String listening = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        + " WHERE query LIKE 'LISTEN kiln_engine_check_%' AND pid <> pg_backend_pid()";
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).until(() -> {
                    try (Connection connection = elsewhere.connection(ConnectionPools.MAINTENANCE_DATABASE)) {
                        // the check must still be waiting when its listener is ended, or this shows nothing
                        assertThat(check.isDone()).as("the check ended before its listener was").isFalse();
                        return Long.parseLong(queryOne(connection, listening)) > 0;
                    }
                });
                check.get(90, TimeUnit.SECONDS);       // no "lacks what Kiln needs": the listener went away, not NOTIFY
            }

            // the same check left to run its course refuses the pair: db_host's NOTIFY never reaches that listener
            try (ConnectionPools pools = ConnectionPools.of(Postgres.start(config), config)) {
                assertThatThrownBy(() -> EngineCheck.verify(pools))
                        .hasMessageContaining("lacks what Kiln needs: LISTEN/NOTIFY (a notification sent on db_host did not"
                                + " reach the listener on db_listen_host localhost:" + listen.port());
            }
        }
    }

    @Test
    void aProbeWhoseConnectionTheServerEndsIsAnOutageNotARefusal() throws Exception {
        Config config = config(Map.of());
        try (ConnectionPools pools = ConnectionPools.of(Postgres.start(config), config);
             Connection connection = pools.connection(ConnectionPools.MAINTENANCE_DATABASE, Isolation.READ_COMMITTED)) {
            List<String> missing = new java.util.ArrayList<>();
            // as an outage in the middle of the check does: the server ends the probe's session; the pool then
            // closes the connection, and the probe's rollback fails with a bare "Connection is closed"
            assertThatThrownBy(() -> EngineCheck.probe(connection, missing, "a probe", probing -> {
                try (java.sql.Statement statement = probing.createStatement()) {
                    statement.execute("SELECT pg_terminate_backend(pg_backend_pid())");
                }
            })).isInstanceOf(EngineCheck.Unjudged.class);
            assertThat(missing).as("nothing is held against the server").isEmpty();
        }
    }

    /** Kiln's settings for the shared server as its superuser, with {@code more}. */
    private static Config config(Map<String, String> more) {
        Map<String, List<String>> cli = new LinkedHashMap<>();
        cli.put("db_host", List.of("localhost"));
        cli.put("db_port", List.of(String.valueOf(SharedPostgres.port())));
        cli.put("db_user", List.of("postgres"));
        cli.put("db_allow_superuser", List.of("True"));
        more.forEach((key, value) -> cli.put(key, List.of(value)));
        return ConfigLoader.load(cli, Map.of("HOME", System.getProperty("user.home"), "KILN_RC", "False"));
    }
}
