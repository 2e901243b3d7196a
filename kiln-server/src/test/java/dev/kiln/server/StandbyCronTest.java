package dev.kiln.server;

import dev.kiln.db.PgAddress;
import dev.kiln.db.Postgres;
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
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * PostgreSQL in recovery under running cron runners: a standby is read only and refuses
 * {@code LISTEN}, so the process's listener listens to nothing and the runners poll instead and
 * run nothing; once the server is promoted it listens again and the runners run what is triggered. The server is one this test starts (from a
 * {@code standby.signal} file, a standby with no primary, which stays in recovery until promoted).
 */
@Tag("process")
class StandbyCronTest {

    @TempDir
    Path dir;

    @Test
    void runnersPollWhileTheServerIsInRecoveryAndListenAgainOncePromoted() throws Exception {
        Path data = dir.resolve("pg");
        Postgres postgres = Postgres.startEmbedded(data);
        try {
            PgAddress server = postgres.await();
            String[] external = {"--db_host=" + server.host(), "--db_port=" + server.port(), "--db_user=postgres", "--db-allow-superuser"};
            try (KilnProcess init = KilnProcess.launch(Files.createDirectories(dir.resolve("init")), List.of(),
                    concat(external, "-d", "standby", "-i", "hello", "--stop-after-init"))) {
                assertThat(init.awaitExit(Duration.ofSeconds(90))).as(init.log()).isZero();
            }
            execute(server, "standby", "INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall)"
                    + " VALUES ('standby_job', 'hello.ledger', 1, 'days', '2100-01-01')");

            try (KilnProcess kiln = KilnProcess.start(Files.createDirectories(dir.resolve("serve")),
                    concat(external, "-d", "standby", "--max-cron-threads=1"))) {
                kiln.awaitCronRunners(1);

                postgres.close();
                Files.writeString(data.resolve("postgres-15/standby.signal"), "");
                postgres = Postgres.startEmbedded(data);
                assertThat(postgres.await().port()).isEqualTo(server.port());
                assertThat(query(server, "postgres", "SELECT pg_is_in_recovery()")).isEqualTo("t");
                kiln.awaitLog("Cron runner 1: PostgreSQL is in recovery \\(read only\\); polling every 10 s", 1);
                assertThat(query(server, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE " + CronHarness.listenerOn("%")))
                        .as("nothing listens on a standby").isEqualTo("0");

                assertThat(query(server, "postgres", "SELECT pg_promote()")).isEqualTo("t");
                execute(server, "standby", "INSERT INTO kiln_cron_trigger (cron_id, call_at)"
                        + " SELECT id, now() FROM kiln_cron WHERE name = 'standby_job'");
                await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(250)).until(() ->
                        query(server, "standby", "SELECT count(*) FROM hello_cron_ledger WHERE job = 'standby_job'").equals("1"));
                await().atMost(Duration.ofSeconds(10)).until(() ->
                        query(server, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE " + CronHarness.listenerOn("kiln_cron")).equals("1"));
                assertThat(kiln.process().isAlive()).isTrue();
            }
        } finally {
            postgres.close();
        }
    }

    private static Connection connect(PgAddress server, String db) throws Exception {
        return DriverManager.getConnection("jdbc:postgresql://" + server.host() + ":" + server.port() + "/" + db, "postgres", "");
    }

    private static void execute(PgAddress server, String db, String sql) throws Exception {
        try (Connection connection = connect(server, db); Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

    private static String query(PgAddress server, String db, String sql) throws Exception {
        try (Connection connection = connect(server, db); Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery(sql)) {
            row.next();
            return row.getString(1);
        }
    }

    private static String[] concat(String[] first, String... more) {
        String[] all = new String[first.length + more.length];
        System.arraycopy(first, 0, all, 0, first.length);
        System.arraycopy(more, 0, all, first.length, more.length);
        return all;
    }
}
