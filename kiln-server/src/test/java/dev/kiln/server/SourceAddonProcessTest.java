package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import dev.kiln.db.SharedPostgres;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Source addons in real {@code kiln} processes: compiled at the first start and taken from the
 * cache at the next, a compile error stopping the start, and {@code kiln scaffold}'s addon
 * installed into a database and serving its route, migration and static file.
 */
@Tag("process")
class SourceAddonProcessTest {

    private static final String GREETER = """
            package greeter;

            import dev.kiln.api.*;

            public final class Greeter implements Addon {
                @Override public void register(AddonContext context) { context.routes(this); }

                @Route(value = "/greeter", auth = Route.Auth.NONE, methods = "GET")
                public Response greet(Request request) throws Exception {
                    try (var in = Greeter.class.getResourceAsStream("greeting.txt")) {
                        return Response.text(new String(in.readAllBytes()).lines().findFirst().orElseThrow());
                    }
                }
            }
            """;

    @TempDir
    Path dir;

    /** The greeter addon; a token of this run in its resource makes its hash new, so the first start must compile it. */
    private Path greeter() {
        Path addons = dir.resolve("addons");
        TestAddons.sourceAddon(addons, "greeter", TestAddons.manifest("greeter.Greeter", "base"), Map.of(
                "greeter/Greeter.java", GREETER,
                "greeter/greeting.txt", "Hello from source\nrun " + UUID.randomUUID() + "\n"));
        return addons;
    }

    @Test
    void aSourceAddonIsCompiledAtTheFirstStartAndTakenFromTheCacheAtTheNext() throws Exception {
        Path addons = greeter();
        String[] args = {"--addons-path=" + addons, "--load=base,web,greeter", "--max-cron-threads=0"};
        try (KilnProcess first = KilnProcess.start(Files.createTempDirectory(dir, "first"), args)) {
            assertThat(first.get("/greeter")).startsWith("HTTP/1.1 200").endsWith("Hello from source");
            assertThat(first.count("addon 'greeter': compiled 1 source file in \\d+ ms into ")).isEqualTo(1);
        }
        try (KilnProcess second = KilnProcess.start(Files.createTempDirectory(dir, "second"), args)) {
            assertThat(second.get("/greeter")).startsWith("HTTP/1.1 200").endsWith("Hello from source");
            assertThat(second.log()).doesNotContain("addon 'greeter': compiled");
        }
    }

    @Test
    void binKilnCompilesASourceAddonAgainstTheJarsOfTheDistribution() throws Exception {
        Path addons = greeter();
        Path kiln = Path.of(System.getProperty("kiln.dist")).resolveSibling("bin").resolve("kiln");
        Process process = new ProcessBuilder("sh", kiln.toString(), "--addons-path=" + addons, "--load=base,web,greeter",
                "--stop-after-init", "--http-port=0", "--max-cron-threads=0", "--data-dir=" + SharedPostgres.dataDir())
                .redirectErrorStream(true).start();
        String said = output(process);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(said).isZero();
        assertThat(said).contains("addon 'greeter': compiled 1 source file in ");
    }

    @Test
    void aCompileErrorStopsTheStartNamingTheFileLineAndMessage() throws Exception {
        Path addons = greeter();
        Path source = addons.resolve("greeter/src/greeter/Greeter.java");
        Files.writeString(source, GREETER.replace("context.routes(this);", "context.routes(thiss);"));
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--addons-path=" + addons, "--load=base,web,greeter")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(60))).as(kiln.log()).isEqualTo(1);
            assertThat(kiln.log()).contains("kiln: addon 'greeter' does not compile (1 error in " + addons.resolve("greeter/src") + "):\n  "
                            + source + ":6: cannot find symbol (symbol: variable thiss, location: class greeter.Greeter)")
                    .doesNotContain("HTTP service (Jetty) running");
        }
    }

    @Test
    void withoutACompilerASourceAddonStopsTheStartSayingSo() throws Exception {
        Path addons = greeter();
        // a JDK limited to java.se is a JRE to the compiler lookup: no jdk.compiler module
        Process kiln = kiln(List.of("--limit-modules=java.se,jdk.unsupported"), List.of("--addons-path=" + addons,
                "--load=base,web,greeter", "--data-dir=" + dir.resolve("data"), "--http-port=0"));
        String said = output(kiln);
        assertThat(kiln.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(kiln.exitValue()).as(said).isEqualTo(1);
        assertThat(said).contains("kiln: addon 'greeter' is made of sources (" + addons.resolve("greeter/src")
                + ") but this Java runtime (", ") has no compiler (module jdk.compiler): run Kiln on a JDK");
    }

    @Test
    void aScaffoldedAddonInstallsAndServesItsRouteMigrationCronJobAndStaticFile() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("scaffolded"));
        Process scaffold = kiln(List.of(), List.of("scaffold", "hello_world", addons.toString()));
        String said = output(scaffold);
        assertThat(scaffold.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(scaffold.exitValue()).as(said).isZero();
        assertThat(said).contains("addon 'hello_world' created in " + addons.resolve("hello_world"));

        try (CronHarness cron = CronHarness.shared(dir, "scaffold", addons, "hello_world")) {
            assertThat(cron.query("SELECT string_agg(addon || ' ' || script, ',') FROM kiln_migration WHERE addon = 'hello_world'"))
                    .isEqualTo("hello_world V1__greeting.sql");
            KilnProcess kiln = cron.serve();
            assertThat(kiln.get("/hello_world")).startsWith("HTTP/1.1 200").endsWith("Hello, world");
            assertThat(kiln.get("/hello_world/static/index.html")).startsWith("HTTP/1.1 200").contains("<h1>Hello World</h1>");
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).until(() ->
                    cron.count("SELECT count(*) FROM hello_world_greeting WHERE checked_at IS NOT NULL") == 1);
            assertThat(kiln.log()).contains("hello_world.check: 1 greetings checked");

            // the scaffold's own test, run as its README says: the JDK alone, against the running Kiln
            Process test = new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(),
                    addons.resolve("hello_world/tests/HelloWorldTest.java").toString(), "http://127.0.0.1:" + kiln.port(), cron.db)
                    .redirectErrorStream(true).start();
            String checked = output(test);
            assertThat(test.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(test.exitValue()).as(checked).isZero();
            assertThat(checked).contains("ok    http://127.0.0.1:" + kiln.port() + "/hello_world -> 200", "hello_world: all checks passed");

            // installing an addon that does not compile fails that database's initialization, and installs nothing
            TestAddons.sourceAddon(addons, "broken_shop", TestAddons.manifest("broken_shop.Shop", "hello_world"),
                    Map.of("broken_shop/Shop.java", "package broken_shop;\npublic class Shop { int price = cost; }\n"));
            try (KilnProcess install = KilnProcess.launch(Files.createTempDirectory(dir, "install"), List.of(),
                    "--addons-path=" + addons, "-d", cron.db, "-i", "broken_shop", "--stop-after-init")) {
                assertThat(install.awaitExit(Duration.ofSeconds(90))).as(install.log()).isEqualTo(1);
                assertThat(install.log()).contains("CRITICAL: failed to initialize database '" + cron.db
                        + "': addon 'broken_shop' does not compile (1 error in ", "Shop.java:2: cannot find symbol (symbol: variable cost");
            }
            assertThat(cron.query("SELECT string_agg(name, ',' ORDER BY name) FROM kiln_addon WHERE state = 'installed'"))
                    .isEqualTo("base,hello_world");
        }
    }

    /** {@code kiln args} in a JVM started as KilnProcess starts it, with {@code jvmFlags} added. */
    private static Process kiln(List<String> jvmFlags, List<String> args) throws java.io.IOException {
        List<String> command = new ArrayList<>(KilnProcess.javaCommand());
        command.addAll(1, jvmFlags);
        command.addAll(args);
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }

    private static String output(Process process) throws java.io.IOException {
        return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
}
