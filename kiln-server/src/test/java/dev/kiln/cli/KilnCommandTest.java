package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.kiln.config.Config;
import dev.kiln.config.Option;
import dev.kiln.config.Options;
import dev.kiln.config.OptionsReference;

/** The command line end to end, except starting a server: that belongs to dev.kiln.server's tests. */
class KilnCommandTest {

    @TempDir
    Path home;

    private record Outcome(int code, String out, String err) { }

    private Outcome run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = KilnCommand.run(args, Map.of("HOME", home.toString()),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private Config config(String... args) {
        return KilnCommand.config(List.of(args), Map.of("HOME", home.toString()));
    }

    private void assertUsageError(Outcome o, String line) {
        assertThat(o.code()).isEqualTo(2);
        assertThat(o.err()).isEqualTo(line + System.lineSeparator());
        assertThat(o.out()).isEmpty();
    }

    @Test
    void anUnknownOptionIsOneLineWithAHintAndExitCode2() {
        assertUsageError(run("--http-prot=8070"),
                "kiln: unknown option '--http-prot=8070'; did you mean --http-port? (kiln --help lists every option)");
        assertUsageError(run("--frobnicate"), "kiln: unknown option '--frobnicate' (kiln --help lists every option)");
        assertUsageError(run("stray"), "kiln: unexpected argument 'stray' (kiln --help lists every option)");
    }

    @Test
    void devAllOnTheCommandLineTurnsOnReloadDebugAndAccess() {
        assertThat(config("--dev=all").devMode()).containsExactlyInAnyOrder("reload", "debug", "access");
        assertThat(config("--dev", "all").dev("access")).isTrue();
        assertThat(config("--dev=access").devMode()).containsExactly("access");
        assertThat(config().devMode()).isEmpty();
    }

    @Test
    void badValuesNameTheOptionAndTheValue() {
        assertUsageError(run("--http-port=abc"), "kiln: --http-port = 'abc': expected a port number from 0 to 65535");
        assertUsageError(run("--workers=-1"), "kiln: --workers = '-1': expected a whole number of workers from 0 to 1024");
        assertUsageError(run("-p"), "kiln: --http-port needs a value (kiln --help lists every option)");
    }

    @Test
    void aBadValueInTheConfigFileNamesFileAndLine() throws IOException {
        Path f = home.resolve("kiln.conf");
        Files.write(f, List.of("[options]", "http_port = 8070", "limit_time_real = soon"));
        assertUsageError(run("-c", f.toString()),
                "kiln: " + f + ":3: limit_time_real = 'soon': expected a whole number of seconds >= 0");
    }

    @Test
    void serverIsTheDefaultCommand() {
        assertThat(run("server", "--help")).isEqualTo(run("--help"));
        assertThat(run("server", "--http-port=abc")).isEqualTo(run("--http-port=abc"));
    }

    @Test
    void shortAndLongFlagsAndBothDbSpellingsReachTheConfig() {
        Config c = config("-p", "8070", "--db-host", "pg", "--db_port=5433", "-d", "a,b", "--no-http",
                "--no-database-list", "--proxy-mode", "--load", "base", "-D", "/var/lib/kiln",
                "--log-handler=:WARNING", "--log-handler", "dev.kiln.http:DEBUG", "-p", "8071");
        assertThat(c.httpPort()).as("the last -p wins").isEqualTo(8071);
        assertThat(c.dbHost()).isEqualTo("pg");
        assertThat(c.dbPort()).isEqualTo(5433);
        assertThat(c.dbName()).containsExactly("a", "b");
        assertThat(c.httpEnable()).isFalse();
        assertThat(c.listDb()).isFalse();
        assertThat(c.proxyMode()).isTrue();
        assertThat(c.serverWideModules()).containsExactly("base");
        assertThat(c.dataDir()).isEqualTo(Path.of("/var/lib/kiln"));
        assertThat(c.logHandler()).containsExactly(":WARNING", "dev.kiln.http:DEBUG");
    }

    @Test
    void helpListsEveryOptionFromTheTable() {
        Outcome help = run("--help");
        assertThat(help.code()).isZero();
        assertThat(help.err()).isEmpty();
        assertThat(help.out()).startsWith("Usage: kiln [server] [OPTIONS]");
        for (Option<?> o : Options.ALL) {
            for (String flag : o.flags()) {
                assertThat(help.out()).as(o.key()).contains(flag);
            }
        }
        assertThat(help.out()).doesNotContain("dump-options-reference");
    }

    @Test
    void everyCommandAnswersHelpWithItsUsageAndExitCodeZero() {
        Outcome evented = run("evented", "--help");
        assertThat(evented.code()).isZero();
        assertThat(evented.out()).startsWith("Usage: kiln evented [OPTIONS]").contains("--gevent-port", "--worker-connections");
        for (String command : List.of("db", "cron", "status", "scaffold")) {
            Outcome help = run(command, "--help");
            assertThat(help.code()).as(command).isZero();
            assertThat(help.out()).as(command).contains("kiln " + command);
        }
    }

    @Test
    void versionPrintsKilnAndTheVersion() {
        Outcome v = run("--version");
        assertThat(v.code()).isZero();
        assertThat(v.out()).matches("kiln \\d+\\.\\d+\\.\\d+.*\\R");
    }

    @Test
    void theOptionsReferenceInDocsIsCurrent() throws IOException {
        Path doc = repositoryRoot().resolve("docs/options.md");
        String expected = OptionsReference.markdown();
        String actual = Files.exists(doc) ? Files.readString(doc) : "";
        assertThat(actual)
                .as("docs/options.md is out of date with dev.kiln.config.Options; regenerate it with `make docs`")
                .isEqualTo(expected);
        assertThat(run("--dump-options-reference").out()).isEqualTo(expected);
    }

    @Test
    void aRealJvmGivenABadOptionPrintsOneLineAndExits2() throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> command = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
                "dev.kiln.Main", "--http-port=abc"));
        Process p = new ProcessBuilder(command).redirectErrorStream(false).start();
        try {
            p.getOutputStream().close();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("the JVM exits").isTrue();
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.exitValue()).isEqualTo(2);
            assertThat(err.lines().toList())
                    .containsExactly("kiln: --http-port = 'abc': expected a port number from 0 to 65535");
            assertThat(out + err).doesNotContain("Exception").doesNotContain("\tat ");
        } finally {
            p.destroyForcibly();
        }
    }

    /** Surefire runs in kiln-server/ and passes kiln.dist, which sits at the repository's root. */
    private static Path repositoryRoot() {
        String dist = System.getProperty("kiln.dist");
        return dist != null ? Path.of(dist).toAbsolutePath().getParent() : Path.of("..").toAbsolutePath().normalize();
    }
}
