package dev.kiln.logging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import dev.kiln.cli.KilnCommandAccess;
import dev.kiln.config.Config;
import dev.kiln.config.LogLevelNames;
import dev.kiln.failure.KilnException;

class LoggingTest {

    private static final String PID = Long.toString(ProcessHandle.current().pid());

    @TempDir
    Path home;

    @AfterEach
    void backToTheDefault() {
        MDC.clear();
        Logging.configureDefault((LoggerContext) LoggerFactory.getILoggerFactory());
    }

    private Config config(String... args) {
        return KilnCommandAccess.config(List.of(args), Map.of("HOME", home.toString()));
    }

    private static String layout(Logger logger, Level level, String message) {
        LoggingEvent event = new LoggingEvent(LoggingTest.class.getName(), logger, level, message, null, null);
        OdooLayout layout = new OdooLayout();
        layout.start();
        return layout.doLayout(event);
    }

    @Test
    void aRefusalLineEscapesWhatAClientTypedAndCutsItShort() {
        assertThat(AccessRefusals.printable("admin\n2026-11-27 00:00:00,000 1 INFO ? forged: line\r\u001b[31m"))
                .isEqualTo("admin\\n2026-11-27 00:00:00,000 1 INFO ? forged: line\\r\\u001b[31m").doesNotContain("\n");
        assertThat(AccessRefusals.printable("x".repeat(500))).hasSize(AccessRefusals.MAX_ARGUMENT + 3).endsWith("...");
        assertThat(AccessRefusals.printable("plain login")).isEqualTo("plain login");
    }

    @Test
    void aLineHasOdoosShape() {
        var logger = (Logger) LoggerFactory.getLogger("dev.kiln.http");
        assertThat(layout(logger, Level.INFO, "hello"))
                .matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3} " + PID + " INFO \\? dev.kiln.http: hello\\n");
        assertThat(layout(logger, Level.WARN, "careful")).contains(" " + PID + " WARNING ? dev.kiln.http: careful\n");
    }

    @Test
    void theDatabaseComesFromTheMdc() {
        var logger = (Logger) LoggerFactory.getLogger("dev.kiln.cron");
        MDC.put("db", "prod");
        assertThat(layout(logger, Level.ERROR, "boom")).endsWith(" " + PID + " ERROR prod dev.kiln.cron: boom\n");
    }

    @Test
    void theLogfileIsAppendedToAndStackTracesFollowTheLine() throws IOException {
        Path logfile = home.resolve("log/kiln.log");
        Files.createDirectories(logfile.getParent());
        Files.writeString(logfile, "earlier line\n");
        Logging.configure(config("--logfile", logfile.toString()));
        LoggerFactory.getLogger("dev.kiln.test").error("failed", new IllegalStateException("why"));
        Logging.shutdown();     // lines are written by the log's own thread; this drains it
        List<String> lines = Files.readAllLines(logfile);
        assertThat(lines.get(0)).isEqualTo("earlier line");
        assertThat(lines.get(1)).endsWith(" ERROR ? dev.kiln.test: failed");
        assertThat(lines.get(2)).isEqualTo("java.lang.IllegalStateException: why");
    }

    @Test
    void logLevelIsAPresetAndLogHandlersOverrideIt() throws IOException {
        Path logfile = home.resolve("kiln.log");
        Logging.configure(config("--logfile", logfile.toString(), "--log-level", "debug",
                "--log-handler", "dev.kiln.quiet:WARNING", "--log-handler", "org.example:ERROR"));
        LoggerFactory.getLogger("dev.kiln.loud").debug("shown");
        LoggerFactory.getLogger("dev.kiln.quiet").info("hidden");
        LoggerFactory.getLogger("org.example").warn("hidden too");
        LoggerFactory.getLogger("org.other").info("root is INFO");
        LoggerFactory.getLogger("org.other").debug("hidden as well");
        Logging.shutdown();
        assertThat(Files.readString(logfile)).contains("DEBUG ? dev.kiln.loud: shown", "org.other: root is INFO")
                .doesNotContain("hidden");
    }

    @Test
    void devAccessShowsRefusalsEvenUnderAQuieterLogLevelAndALogHandlerStillWins() throws IOException {
        Path logfile = home.resolve("kiln.log");
        Logging.configure(config("--logfile", logfile.toString(), "--log-level", "warn", "--dev=access"));
        new AccessRefusals(true).refused("shown: {}", "a reason");
        new AccessRefusals(false).refused("hidden: debug without --dev=access");
        Logging.configure(config("--logfile", logfile.toString(), "--dev=access", "--log-handler", "dev.kiln.access:WARNING"));
        new AccessRefusals(true).refused("hidden: silenced by --log-handler");
        Logging.configure(config("--logfile", logfile.toString()));
        new AccessRefusals(false).refused("hidden: at DEBUG under the default INFO");
        Logging.shutdown();
        assertThat(Files.readString(logfile)).contains("INFO ? dev.kiln.access: shown: a reason").doesNotContain("hidden");
    }

    @Test
    void aSessionAppearsInARefusalByItsFirstCharactersOnly() {
        assertThat(AccessRefusals.session("AbCdEfGhIjKlMnOp")).isEqualTo("AbCdEf...");
        assertThat(AccessRefusals.session("short")).isEqualTo("...");
        assertThat(AccessRefusals.session(null)).isEqualTo("none");
    }

    @Test
    void everyLevelNameTheOptionsAcceptHasItsLogbackMeaning() {
        for (String preset : LogLevelNames.PRESETS) {
            assertThatCode(() -> LogLevels.handlersOf(preset)).as(preset).doesNotThrowAnyException();
        }
        for (String level : LogLevelNames.HANDLER_LEVELS) {
            assertThatCode(() -> LogLevels.toLogback(level)).as(level).doesNotThrowAnyException();
        }
    }

    @Test
    void aRootHandlerSetsTheRootLevel() throws IOException {
        Path logfile = home.resolve("kiln.log");
        Logging.configure(config("--logfile", logfile.toString(), "--log-handler", ":WARNING"));
        LoggerFactory.getLogger("org.other").info("hidden");
        LoggerFactory.getLogger("org.other").warn("shown");
        Logging.shutdown();
        assertThat(Files.readString(logfile)).contains("WARNING ? org.other: shown").doesNotContain("hidden");
    }

    @Test
    void aLogfileThatCannotBeOpenedIsAUsageError() throws IOException {
        Path folder = Files.createDirectory(home.resolve("a-folder"));
        try {
            Logging.configure(config("--logfile", folder.toString()));
            throw new AssertionError("expected a usage error");
        } catch (KilnException e) {
            assertThat(e.exitCode()).isEqualTo(KilnException.USAGE);
            assertThat(e.getMessage()).startsWith("--logfile = '" + folder + "': cannot open it for writing");
        }
    }
}
