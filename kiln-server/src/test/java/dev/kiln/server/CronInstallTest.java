package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * An addon installed by another process while a Kiln serves the database: its job, due at once,
 * is run by the serving process's runners with the new addon's code, once, as a success. The
 * addon is installed with a second one that depends on it and takes a few seconds to install, as
 * a run of {@code -i} with several addons does.
 */
@Tag("process")
class CronInstallTest {

    private static final String LATE = """
            package latecron;

            import dev.kiln.api.*;
            import java.sql.*;

            public final class LateCron implements Addon {
                @Override public void register(AddonContext context) {
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "first", this::mark));
                }

                private void mark(CronContext job) throws SQLException {
                    try (PreparedStatement insert = job.connection().prepareStatement(
                            "INSERT INTO late_ledger (job, kiln_pid) VALUES (?, ?)")) {
                        insert.setString(1, job.job());
                        insert.setLong(2, ProcessHandle.current().pid());
                        insert.executeUpdate();
                    }
                }
            }
            """;

    /** Installed after latecron in the same run, with a slow install hook: the run signals the registry change after it. */
    private static final String SLOW_INSTALL = """
            package slowinstall;

            import dev.kiln.api.*;

            public final class SlowInstall implements Addon {
                @Override public void register(AddonContext context) { }

                @Override public void onInstall(InstallContext context) throws Exception {
                    Thread.sleep(3_000);
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void theJobOfAnAddonInstalledByAnotherProcessRunsInTheServingProcessWithItsCode() throws Exception {
        Path addons = CronHarness.addon(dir, "latecron", "latecron.LateCron", LATE,
                "V1__late_ledger.sql", "CREATE TABLE late_ledger (id bigserial PRIMARY KEY, job text NOT NULL, kiln_pid bigint NOT NULL);");

        TestAddons.addon(addons, "slowinstall", TestAddons.manifest("slowinstall.SlowInstall", "latecron"),
                Map.of("slowinstall.SlowInstall", SLOW_INSTALL));

        try (CronHarness cron = CronHarness.shared(dir, "cron_install", addons, "hello")) {
            KilnProcess kiln = cron.serve("--max-cron-threads", "2");
            kiln.awaitCronRunners(2);
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() -> cron.count(
                    "SELECT count(*) FROM pg_stat_activity WHERE " + CronHarness.listenerOn("kiln_cron")) == 1);

            try (KilnProcess install = KilnProcess.launch(Files.createTempDirectory(dir, "install"), List.of(),
                    "--addons-path=" + addons, "-d", cron.db, "-i", "slowinstall", "--stop-after-init")) {
                assertThat(install.awaitExit(Duration.ofSeconds(90))).as(install.log()).isZero();
            }

            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM kiln_cron WHERE name = 'latecron.first' AND nextcall <= now()") == 0);
            assertThat(kiln.log()).doesNotContain("cron job 'latecron.first' failed");
            assertThat(cron.query("SELECT failure_count FROM kiln_cron WHERE name = 'latecron.first'")).isEqualTo("0");
            assertThat(cron.query("SELECT count(*) || ',' || min(kiln_pid) FROM late_ledger WHERE job = 'latecron.first'"))
                    .isEqualTo("1," + kiln.pid());
        }
    }
}
