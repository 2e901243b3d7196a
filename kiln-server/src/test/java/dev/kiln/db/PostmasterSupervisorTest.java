package dev.kiln.db;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import static dev.kiln.db.EmbeddedPostgresTest.execute;
import static dev.kiln.db.EmbeddedPostgresTest.queryOne;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The postmaster of the embedded server this process owns, killed: it is started again on the same
 * port with its data, and a stop at any point of that (waiting to restart, pg_ctl under way) leaves
 * no postmaster running.
 */
class PostmasterSupervisorTest {

    private static final Duration BOUND = Duration.ofSeconds(120);

    @TempDir
    Path dataDir;

    @Test
    void aKilledPostmasterIsStartedAgainOnTheSamePortWithItsData() throws Exception {
        Postgres postgres = Postgres.startEmbedded(dataDir);
        Path pgData = dataDir.resolve("postgres-15");
        try (ConnectionPools pools = new ConnectionPools(postgres, 4, Duration.ofSeconds(1))) {
            int port = postgres.await().port();
            Transactions.inTransaction(pools, "postgres", c -> execute(c, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before')"));
            ProcessHandle first = EmbeddedServer.livePostmaster(pgData).orElseThrow();

            first.destroyForcibly();

            ProcessHandle second = awaitNewPostmaster(pgData, first);
            await().atMost(BOUND).pollInterval(Duration.ofMillis(100)).until(() -> EmbeddedServer.answers(port));
            // the pool drops what died with the first postmaster and connects to the second
            await().atMost(BOUND).pollInterval(Duration.ofMillis(100)).ignoreExceptionsMatching(e ->
                    e instanceof DatabaseException d && d.reason() == DatabaseException.Reason.UNREACHABLE).until(() ->
                    "before".equals(Transactions.inTransaction(pools, "postgres", c -> queryOne(c, "SELECT v FROM kept"))));
            assertThat(postgres.await().port()).isEqualTo(port);
            assertThat(Files.readString(dataDir.resolve("postgres-15.port")))
                    .contains("port=" + port).contains("pid=" + ProcessHandle.current().pid());

            postgres.close();
            assertThat(second.isAlive()).as("the restarted postmaster, stopped by close").isFalse();
            assertThat(EmbeddedServer.answers(port)).isFalse();
            assertThat(pgData.resolve("postmaster.pid")).doesNotExist();
        } finally {
            postgres.close();
        }
    }

    @Test
    void aPostmasterAdoptedFromAKilledKilnIsWatchedToo() throws Exception {
        Path pgData = dataDir.resolve("postgres-15");
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "--enable-native-access=ALL-UNNAMED",
                AttachMain.class.getName(), dataDir.toString(), "hold").redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            String line = new BufferedReader(new InputStreamReader(child.getInputStream())).readLine();
            assertThat(line).endsWith("owner=true");
            child.destroyForcibly().waitFor();
            try (Postgres adopting = Postgres.startEmbedded(dataDir)) {
                int port = adopting.await().port();
                assertThat(adopting.ownsServer()).isTrue();
                ProcessHandle adopted = EmbeddedServer.livePostmaster(pgData).orElseThrow();

                adopted.destroyForcibly();

                ProcessHandle restarted = awaitNewPostmaster(pgData, adopted);
                await().atMost(BOUND).pollInterval(Duration.ofMillis(100)).until(() -> EmbeddedServer.answers(port));
                adopting.close();
                assertThat(restarted.isAlive()).isFalse();
            }
        } finally {
            child.destroyForcibly();
        }
    }

    @Test
    void aStopWhileTheRestartWaitsReturnsAndLeavesNoPostmaster() throws Exception {
        Path pgData = dataDir.resolve("postgres-15");
        int port;
        try (EmbeddedServer server = EmbeddedServer.open(dataDir, Postgres.START_TIMEOUT)) {
            port = server.port();
            // without it the postmaster cannot be started as it ran: every attempt fails and the next one waits
            Files.move(pgData.resolve("postmaster.opts"), dataDir.resolve("postmaster.opts.away"));
            ProcessHandle killed = server.supervisor().postmaster();
            killed.destroyForcibly();
            await().atMost(BOUND).pollInterval(Duration.ofMillis(50)).until(() -> server.supervisor().failedAttempts() >= 1);
        }
        assertThat(EmbeddedServer.livePostmaster(pgData)).isEmpty();
        assertThat(EmbeddedServer.answers(port)).isFalse();

        // the data dir was let go: the next start owns it, once the killed server's backends are gone
        try (Postgres next = awaitStart(dataDir)) {
            assertThat(next.ownsServer()).isTrue();
        }
    }

    @Test
    void aStopWhilePgCtlStartsTheServerAgainStopsTheNewPostmaster() throws Exception {
        Path pgData = dataDir.resolve("postgres-15");
        Path log = dataDir.resolve("postgres-15.log");
        int port;
        try (EmbeddedServer server = EmbeddedServer.open(dataDir, Postgres.START_TIMEOUT)) {
            port = server.port();
            long startsBefore = starts(log);
            server.supervisor().postmaster().destroyForcibly();
            await().atMost(BOUND).pollInterval(Duration.ofMillis(10)).until(() -> starts(log) > startsBefore);
        }
        Optional<ProcessHandle> left = EmbeddedServer.livePostmaster(pgData);
        assertThat(left).as("a postmaster left running").isEmpty();
        assertThat(EmbeddedServer.answers(port)).isFalse();
    }

    private static ProcessHandle awaitNewPostmaster(Path pgData, ProcessHandle old) {
        return await().atMost(BOUND).pollInterval(Duration.ofMillis(100)).until(
                () -> EmbeddedServer.livePostmaster(pgData).filter(p -> p.pid() != old.pid()), Optional::isPresent).orElseThrow();
    }

    /** Times pg_ctl began to start a server with this log: it writes the line before it waits. */
    private static long starts(Path log) throws Exception {
        return Files.exists(log) ? Files.readString(log).lines().filter(l -> l.startsWith("waiting for server to start")).count() : 0;
    }

    /** A start of the embedded server of {@code dataDir}; tried again while the killed one's backends hold its memory. */
    private static Postgres awaitStart(Path dataDir) {
        return await().atMost(BOUND).pollInterval(Duration.ofMillis(500)).until(() -> {
            Postgres postgres = Postgres.startEmbedded(dataDir);
            try {
                postgres.await();
                return postgres;
            } catch (DatabaseException e) {
                postgres.close();
                return null;
            }
        }, p -> p != null);
    }
}
