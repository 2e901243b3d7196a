package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Kiln through Debian's PgBouncer in transaction pooling mode, configured by the
 * {@code docs/pgbouncer.ini} operators read: the external API's calls, past pgjdbc's five uses of
 * a statement (when it would prepare it by name), answer without a fault; and the notification
 * listener, on {@code db_listen_host}, hears an addon installed by another process, which is then
 * served without a restart. Without {@code db_listen_host} a transaction pool is refused at start
 * in one line; with {@code db_listen_host} on the transaction pool too, the start's engine check
 * finds that notifications do not arrive, and says so in one line.
 */
@Tag("process")
class PgBouncerTest {

    private static final String PINGED = """
            package pinged;

            import dev.kiln.api.*;

            public final class Pinged implements Addon {
                @Override public void register(AddonContext context) { context.routes(this); }

                @Route(value = "/pinged", auth = Route.Auth.PUBLIC)
                public Response ping(Request request) { return Response.text("pong"); }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void kilnServesThroughATransactionPoolAndListensBesideIt() throws Exception {
        Path addons = CronHarness.addon(dir, "pinged", "pinged.Pinged", PINGED, "V1__pinged.sql", "SELECT 1;");
        try (CronHarness database = CronHarness.shared(dir, "bouncer", addons, "base");
             PgBouncer bouncer = PgBouncer.start(dir, CronHarness.sharedPort());
             KilnProcess kiln = KilnProcess.start(Files.createTempDirectory(dir, "pooled"), "--addons-path=" + addons,
                     "--db_host=127.0.0.1", "--db_port=" + bouncer.port(), "--db_user=kiln", "--db-pooler=transaction",
                     "--db-listen-host=localhost", "--db-listen-port=" + CronHarness.sharedPort(), "-d", database.db,
                     "--max-cron-threads=1")) {
            String out = Commands.python(dir, """
                    import sys, xmlrpc.client
                    url, db = sys.argv[1], sys.argv[2]
                    uid = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common").authenticate(db, "admin", "admin", {})
                    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object")
                    def call(method, *args, **kw):
                        return models.execute_kw(db, uid, "admin", "res.partner", method, list(args), kw)
                    for i in range(12):          # every statement well past pgjdbc's prepareThreshold (5)
                        made = call("create", {"name": f"Pooled {i}", "email": f"p{i}@example.com"})
                        assert call("read", [made], ["email"])[0]["email"] == f"p{i}@example.com"
                        call("write", [made], {"city": "Ghent"})
                        assert call("search_count", [["id", "=", made], ["city", "=", "Ghent"]]) == 1
                        call("unlink", [made])
                    print("calls", uid, call("search_count", [["name", "like", "Pooled"]]))
                    """, "http://127.0.0.1:" + kiln.port(), database.db);
            assertThat(out).as(kiln.log()).isEqualTo("calls 2 0\n");
            assertThat(kiln.get("/pinged")).startsWith("HTTP/1.1 404");

            try (KilnProcess install = KilnProcess.launch(Files.createTempDirectory(dir, "install"), List.of(),
                    "--addons-path=" + addons, "-d", database.db, "-i", "pinged", "--stop-after-init")) {
                assertThat(install.awaitExit(Duration.ofSeconds(90))).as(install.log()).isZero();
            }
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(kiln.get("/pinged"))
                    .as("the registry signal, heard on db_listen_host").startsWith("HTTP/1.1 200").endsWith("pong"));
            assertThat(kiln.log()).doesNotContain("prepared statement").doesNotContain("ERROR");

            // the listener pointed at the transaction pool too: its LISTEN would be lost with its transaction
            try (KilnProcess misled = KilnProcess.launch(Files.createTempDirectory(dir, "misled"), List.of(),
                    "--db_host=127.0.0.1", "--db_port=" + bouncer.port(), "--db_user=kiln", "--db-pooler=transaction",
                    "--db-listen-host=127.0.0.1", "--db-listen-port=" + bouncer.port(), "-d", database.db)) {
                assertThat(misled.awaitExit(Duration.ofSeconds(90))).as(misled.log()).isEqualTo(1);
                assertThat(misled.log()).contains("lacks what Kiln needs: LISTEN/NOTIFY (a notification sent on db_host did"
                        + " not reach the listener on db_listen_host 127.0.0.1:" + bouncer.port()).doesNotContain("\tat ");
            }
        }
    }

    @Test
    void aTransactionPoolWithoutAListenHostIsRefusedAtStartInOneLine() throws Exception {
        try (KilnProcess kiln = KilnProcess.launch(Files.createTempDirectory(dir, "refused"), List.of(),
                "--db_host=127.0.0.1", "--db_port=6432", "--db_user=kiln", "--db-pooler=transaction", "-d", "any")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(60))).isEqualTo(2);
            assertThat(kiln.log()).contains("db_pooler = transaction: LISTEN needs a session").contains("db_listen_host")
                    .doesNotContain("\tat ");
        }
    }
}
