package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import dev.kiln.db.PgAddress;
import dev.kiln.db.Postgres;
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
 * PostgreSQL going away under a running Kiln: requests to its databases are answered 503 with a
 * Retry-After (no hang, no stack in the answer), routes that need no database keep answering, and once the server is back Kiln reconnects
 * by itself. The server here is one this test starts and stops; Kiln reaches it as an external one.
 */
@Tag("process")
class DatabaseOutageTest {

    private static final String PING = """
            package ping;

            import dev.kiln.api.*;
            import java.sql.*;

            public final class Ping implements Addon {
                @Override public void register(AddonContext context) { context.routes(this); }

                @Route(value = "/ping/db", auth = Route.Auth.PUBLIC)
                public Response ping(Request request) throws SQLException {
                    try (Statement s = request.env().connection().createStatement();
                         ResultSet r = s.executeQuery("SELECT current_database()")) {
                        r.next();
                        return Response.text(r.getString(1));
                    }
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void anOutageIsA503NotAHangAndKilnReconnectsWhenTheServerIsBack() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        TestAddons.addon(addons, "ping", TestAddons.manifest("ping.Ping", "base"), Map.of("ping.Ping", PING));
        Path data = dir.resolve("pg");
        Postgres postgres = Postgres.startEmbedded(data);
        try {
            PgAddress server = postgres.await();
            String[] external = {"--addons-path=" + addons, "--db_host=" + server.host(), "--db_port=" + server.port(),
                    "--db_user=postgres", "--db-allow-superuser"};
            try (KilnProcess init = KilnProcess.launch(Files.createDirectories(dir.resolve("init")), List.of(),
                    concat(external, "-d", "outage", "-i", "ping", "--stop-after-init"))) {
                assertThat(init.awaitExit(Duration.ofSeconds(90))).as(init.log()).isZero();
            }
            try (KilnProcess kiln = KilnProcess.start(Files.createDirectories(dir.resolve("serve")), concat(external, "-d", "outage"))) {
                assertThat(kiln.get("/ping/db")).startsWith("HTTP/1.1 200").endsWith("outage");

                postgres.close();
                String during = kiln.get("/ping/db");
                assertThat(during).startsWith("HTTP/1.1 503").contains("Retry-After: 5")
                        .contains("database &#39;outage&#39; is not available now").doesNotContain("Exception");
                String json = kiln.request("POST", "/web/session/authenticate", "{\"jsonrpc\":\"2.0\",\"id\":1,\"params\":"
                        + "{\"db\":\"outage\",\"login\":\"admin\",\"password\":\"admin\"}}", "Content-Type: application/json");
                assertThat(json).as("a JSON route's answer during the outage").contains("\"error\"").doesNotContain("Traceback");
                assertThat(kiln.get("/hello")).as("no database needed").startsWith("HTTP/1.1 200");

                postgres = Postgres.startEmbedded(data);
                assertThat(postgres.await().port()).isEqualTo(server.port());
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
                        .until(() -> kiln.get("/ping/db").startsWith("HTTP/1.1 200"));
                assertThat(kiln.process().isAlive()).isTrue();
            }
        } finally {
            postgres.close();
        }
    }

    private static String[] concat(String[] first, String... more) {
        String[] all = new String[first.length + more.length];
        System.arraycopy(first, 0, all, 0, first.length);
        System.arraycopy(more, 0, all, first.length, more.length);
        return all;
    }
}
