package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code limit_time_worker_cron}: a runner whose listening connection is older than the limit opens
 * a fresh one (and LISTENs again), and still hears triggers and runs jobs afterwards.
 */
@Tag("process")
class WorkerCronAgeTest {

    private static final Path DATA = Path.of(System.getProperty("kiln.test.data", "target/kiln-test-data"));

    @TempDir
    Path dir;

    @Test
    void aRunnerPastLimitTimeWorkerCronReconnectsAndKeepsRunningJobs() throws Exception {
        String db = "cron_age_" + UUID.randomUUID().toString().substring(0, 8);
        try (KilnProcess kiln = KilnProcess.start(Files.createDirectories(dir.resolve("serve")),
                "-d", db, "-i", "hello", "--max-cron-threads=1", "--limit-time-worker-cron=1")) {
            kiln.awaitLog("Cron: 1 runner started", 1);
            kiln.awaitLog("Cron runner 1: its connection reached limit_time_worker_cron \\(1 s\\); opening a fresh one", 2);

            execute(db, "INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall)"
                    + " VALUES ('aged', 'hello.ledger', 1, 'days', '2100-01-01')");
            execute(db, "INSERT INTO kiln_cron_trigger (cron_id, call_at) SELECT id, now() FROM kiln_cron WHERE name = 'aged'");
            execute("postgres", "SELECT pg_notify('kiln_cron', '" + db + "')");
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                    .until(() -> query(db, "SELECT count(*) FROM hello_cron_ledger WHERE job = 'aged'").equals("1"));
            kiln.awaitLog("Cron runner 1: its connection reached limit_time_worker_cron", 3);
            assertThat(kiln.log()).doesNotContain("Cron runner 1: PostgreSQL");
        }
    }

    private static Connection connect(String db) throws Exception {
        String port = Files.readAllLines(DATA.resolve("postgres-15.port")).stream().filter(l -> l.startsWith("port="))
                .findFirst().orElseThrow().substring(5);
        return DriverManager.getConnection("jdbc:postgresql://localhost:" + port + "/" + db, "postgres", "");
    }

    private static void execute(String db, String sql) throws Exception {
        try (Connection connection = connect(db); Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

    private static String query(String db, String sql) throws Exception {
        try (Connection connection = connect(db); Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery(sql)) {
            row.next();
            return row.getString(1);
        }
    }
}
