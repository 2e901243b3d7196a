package dev.kiln.logging;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;

import dev.kiln.config.Config;
import dev.kiln.failure.KilnException;

/**
 * Kiln's logging, set up in code: Logback reads no logback.xml and prints no status of its own.
 * Before {@link #configure} runs, {@link KilnLogbackConfigurator} gives the default (stderr, INFO,
 * Odoo's line shape) so the first messages already look right. Levels follow Odoo: root INFO,
 * then the {@code --log-level} preset, then each {@code --log-handler} in order.
 */
public final class Logging {

    private static final String APPENDER = "kiln";
    /**
     * Odoo's default handlers, in Kiln's names: Kiln says itself what Jetty would say at INFO. The
     * embedded PostgreSQL library says nothing: a start that fails reaches Kiln as an exception,
     * which Kiln reports in one line, and on close the library's own stop finds the server Kiln
     * already stopped, which it would report as an error with a stack trace. HikariCP's note that it
     * dropped a broken connection comes with the driver's stack: a lost server is said once by Kiln
     * (the notification listener's line, the calls' own answers), so that note is left out.
     */
    private static final List<String> BASE_HANDLERS = List.of(":INFO", "org.eclipse.jetty:WARNING",
            "io.zonky.test.db.postgres:WARNING", "io.zonky.test.db.postgres.embedded.EmbeddedPostgres:OFF",
            "com.zaxxer.hikari:WARNING", "com.zaxxer.hikari.pool.ProxyConnection:ERROR");

    private static volatile BatchingAppender current;

    private Logging() { }

    /** The writer of the log as configured now; null before the first configuration. */
    static BatchingAppender current() {
        return current;
    }

    /** Points the log at {@code --logfile} (appending) or stderr and applies the levels. */
    public static void configure(Config config) {
        LoggerContext context = context();
        List<String> handlers = new ArrayList<>();
        handlers.addAll(BASE_HANDLERS);
        handlers.addAll(LogLevels.handlersOf(config.logLevel() == null ? "info" : config.logLevel()));
        if (config.dev("access")) {
            // asked for by --dev=access, so a quieter --log-level does not hide it; --log-handler still can
            handlers.add(AccessRefusals.NAME + ":INFO");
        }
        handlers.addAll(config.logHandler());
        Path logfile = config.logfile();
        if (logfile != null) {
            checkWritable(logfile);
        }
        install(context, logfile, handlers);
    }

    /** The configuration used until {@link #configure} runs. */
    static void configureDefault(LoggerContext context) {
        install(context, null, BASE_HANDLERS);
    }

    private static void install(LoggerContext context, Path logfile, List<String> handlers) {
        context.reset();
        context.start();        // again, after a shutdown()
        Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        BatchingAppender appender = appender(context, logfile);
        root.addAppender(appender);
        current = appender;
        for (String handler : handlers) {
            int colon = handler.lastIndexOf(':');
            String name = handler.substring(0, colon);
            Logger logger = name.isEmpty() ? root : context.getLogger(name);
            logger.setLevel(LogLevels.toLogback(handler.substring(colon + 1)));
        }
    }

    /** Writes out every queued line and closes the log; Kiln calls it before it exits or re-execs. */
    public static void shutdown() {
        context().stop();
    }

    private static BatchingAppender appender(LoggerContext context, Path logfile) {
        OdooLayout layout = new OdooLayout();
        layout.setContext(context);
        layout.start();
        LayoutWrappingEncoder<ILoggingEvent> encoder = new LayoutWrappingEncoder<>();
        encoder.setContext(context);
        encoder.setLayout(layout);
        encoder.setCharset(StandardCharsets.UTF_8);
        encoder.start();
        OutputStream target;
        if (logfile == null) {
            target = new FileOutputStream(FileDescriptor.err);
        } else {
            try {
                target = new FileOutputStream(logfile.toFile(), true);
            } catch (IOException e) {
                throw KilnException.usage("--logfile = '" + logfile + "': cannot open it for writing (" + e.getMessage() + ")");
            }
        }
        BatchingAppender appender = new BatchingAppender(encoder, target, logfile != null);
        appender.setName(APPENDER);
        appender.setContext(context);
        appender.start();
        return appender;
    }

    /** Logback would only note a file it cannot open in its status; say so once, clearly, instead. */
    private static void checkWritable(Path logfile) {
        try {
            Path folder = logfile.toAbsolutePath().getParent();
            if (folder != null) {
                Files.createDirectories(folder);
            }
            try (OutputStream out = Files.newOutputStream(logfile, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND)) {
                out.flush();
            }
        } catch (IOException | SecurityException e) {
            throw KilnException.usage("--logfile = '" + logfile + "': cannot open it for writing ("
                    + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        }
    }

    private static LoggerContext context() {
        return (LoggerContext) LoggerFactory.getILoggerFactory();
    }
}
