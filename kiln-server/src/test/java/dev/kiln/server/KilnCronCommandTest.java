package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import dev.kiln.cli.KilnCommandAccess;
import dev.kiln.db.SharedPostgres;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code kiln cron list} and {@code kiln cron run} as an operator runs them, in this JVM, against a
 * database a real Kiln prepared; no Kiln runs cron runners on it, so every call here is the command's.
 */
@Tag("process")
class KilnCronCommandTest {

    private static final String ADDON = """
            package clijob;

            import dev.kiln.api.*;
            import java.sql.*;
            import java.time.Instant;

            public final class CliJob implements Addon {
                @Override public void register(AddonContext context) {
                    Instant later = Instant.parse("2100-01-01T00:00:00Z");
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "count", this::count).firstCall(later));
                    context.cron(CronJob.every(2, CronJob.Unit.HOURS, "boom", job -> {
                        throw new IllegalStateException("boom on purpose");
                    }).firstCall(later).priority(1));
                }

                private void count(CronContext job) throws SQLException {
                    try (Statement s = job.connection().createStatement()) {
                        s.executeUpdate("INSERT INTO clijob_runs DEFAULT VALUES");
                    }
                }
            }
            """;

    @TempDir
    Path dir;

    private record Outcome(int code, String out, String err) { }

    private Outcome kiln(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--data-dir=" + SharedPostgres.dataDir(), "--addons-path=" + dir.resolve("addons"), "--log-level=warn"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = KilnCommandAccess.run(all, Map.of("HOME", dir.toString()),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void listsTheJobsRunsOneByHandAndRefusesWhileARunnerHoldsIt() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        Path addon = TestAddons.addon(addons, "clijob", TestAddons.manifest("clijob.CliJob", "base"), Map.of("clijob.CliJob", ADDON));
        Files.createDirectories(addon.resolve("migrations"));
        Files.writeString(addon.resolve("migrations/V1__runs.sql"), "CREATE TABLE clijob_runs (id serial PRIMARY KEY);");
        try (CronHarness cron = CronHarness.shared(dir, "cli_cron", addons, "clijob")) {
            String db = cron.db;

            Outcome list = kiln("cron", "list", "-d", db);
            assertThat(list.code()).as(list.err()).isZero();
            assertThat(list.out()).containsPattern("clijob\\.count +2100-01-01 00:00:00 +- +0 +yes +1 days +5")
                    .containsPattern("clijob\\.boom +2100-01-01 00:00:00 +- +0 +yes +2 hours +1");

            Outcome run = kiln("cron", "run", "-d", db, "clijob.count");
            assertThat(run.code()).as(run.err()).isZero();
            assertThat(run.out()).contains("cron job 'clijob.count' done in");
            assertThat(cron.query("SELECT count(*) FROM clijob_runs")).isEqualTo("1");
            assertThat(cron.query("SELECT lastcall IS NOT NULL AND nextcall = '2100-01-01T00:00:00Z' FROM kiln_cron WHERE name = 'clijob.count'"))
                    .as("ran by hand: last call recorded, schedule untouched").isEqualTo("t");

            try (Connection runner = cron.connect()) {
                runner.setAutoCommit(false);
                try (Statement statement = runner.createStatement()) {
                    statement.executeQuery("SELECT 1 FROM kiln_cron WHERE name = 'clijob.count' FOR NO KEY UPDATE").close();
                }
                Outcome held = kiln("cron", "run", "-d", db, "clijob.count");
                assertThat(held.code()).isEqualTo(1);
                assertThat(held.err()).contains("cron job 'clijob.count' in database '" + db + "' is already executing");
                runner.rollback();
            }
            assertThat(cron.query("SELECT count(*) FROM clijob_runs")).as("not run while held").isEqualTo("1");

            Outcome boom = kiln("cron", "run", "-d", db, "clijob.boom");
            assertThat(boom.code()).isEqualTo(1);
            assertThat(boom.err()).contains("cron job 'clijob.boom' failed: boom on purpose").doesNotContain("\tat ");

            Outcome unknown = kiln("cron", "run", "-d", db, "clijob.nope");
            assertThat(unknown.code()).isEqualTo(1);
            assertThat(unknown.err()).contains("has no cron job named 'clijob.nope'");

            Outcome noDatabase = kiln("cron", "list");
            assertThat(noDatabase.code()).isEqualTo(2);
            assertThat(noDatabase.err()).contains("needs one database: -d DATABASE");

            Outcome badAction = kiln("cron", "start", "-d", db);
            assertThat(badAction.code()).isEqualTo(2);
            assertThat(badAction.err()).contains("unknown cron action 'start'");
        }
    }
}
