package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * An addon's code runs with the addon's own class loader as the thread's context class loader, as
 * libraries that load classes or resources by name (JAXB, ServiceLoader, template engines) need:
 * in its routes, in its external-API services and in its cron jobs alike.
 */
@Tag("process")
class AddonClassLoaderTest {

    private static final String LOADERS = """
            package loaders;

            import dev.kiln.api.*;
            import java.sql.*;

            public final class Loaders implements Addon {
                @Override public void register(AddonContext context) {
                    context.routes(this);
                    context.service("loaders.probe", new Probe());
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "mark", this::mark)
                            .firstCall(java.time.Instant.parse("2100-01-01T00:00:00Z")));
                }

                static String whose() {
                    return Thread.currentThread().getContextClassLoader() == Loaders.class.getClassLoader() ? "own" : "other";
                }

                @Route(value = "/loaders/route", auth = Route.Auth.PUBLIC)
                public Response route(Request request) {
                    return Response.text("route:" + whose());
                }

                private void mark(CronContext job) throws SQLException {
                    try (PreparedStatement insert = job.connection().prepareStatement("INSERT INTO loaders_seen VALUES (?)")) {
                        insert.setString(1, "cron:" + whose());
                        insert.executeUpdate();
                    }
                }

                public static final class Probe {
                    public String probe(RpcCall call) {
                        return "service:" + whose();
                    }
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void routesServicesAndCronJobsRunWithTheirAddonsClassLoader() throws Exception {
        Path addons = CronHarness.addon(dir, "loaders", "loaders.Loaders", LOADERS, "V1__seen.sql", "CREATE TABLE loaders_seen (seen text)");
        try (CronHarness harness = CronHarness.shared(dir, "loaders", addons, "loaders")) {
            KilnProcess kiln = harness.serve("--max-cron-threads", "0");
            assertThat(kiln.request("GET", "/loaders/route", null, "X-Kiln-Database: " + harness.db)).endsWith("route:own");

            String login = kiln.request("POST", "/web/session/authenticate", "{\"jsonrpc\":\"2.0\",\"method\":\"call\",\"id\":1,"
                    + "\"params\":{\"db\":\"" + harness.db + "\",\"login\":\"admin\",\"password\":\"admin\"}}", "Content-Type: application/json");
            Matcher uid = Pattern.compile("\"uid\":(\\d+)").matcher(login);
            assertThat(uid.find()).as(login).isTrue();
            String call = kiln.request("POST", "/jsonrpc", "{\"jsonrpc\":\"2.0\",\"method\":\"call\",\"id\":2,\"params\":{\"service\":\"object\","
                    + "\"method\":\"execute_kw\",\"args\":[\"" + harness.db + "\"," + uid.group(1) + ",\"admin\",\"loaders.probe\",\"probe\",[]]}}",
                    "Content-Type: application/json");
            assertThat(call).contains("\"result\":\"service:own\"");

            harness.execute("UPDATE kiln_cron SET nextcall = now() WHERE name = 'loaders.mark'");
            harness.serve("--max-cron-threads", "1");
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200))
                    .until(() -> harness.count("SELECT count(*) FROM loaders_seen") == 1);
            assertThat(harness.query("SELECT seen FROM loaders_seen")).isEqualTo("cron:own");
        }
    }
}
