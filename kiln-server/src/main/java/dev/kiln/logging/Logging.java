package dev.kiln.logging;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.AsyncAppender;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;

import dev.kiln.KilnException;
import dev.kiln.config.Config;

/**
 * Kiln's logging, set up in code: Logback reads no logback.xml and prints no status of its own.
 * Before {@link #configure} runs, {@link KilnLogbackConfigurator} gives the default (stderr, INFO,
 * Odoo's line shape) so the first messages already look right. Levels follow Odoo: root INFO,
 * then the {@code --log-level} preset, then each {@code --log-handler} in order.
 */
public final class Logging {

    private static final String APPENDER = "kiln";
    private static final int QUEUE = 8192;
    private static final int FLUSH_MILLIS = 2000;
    /** Odoo's default handlers, in Kiln's names: Kiln says itself what Jetty would say at INFO. */
    private static final List<String> BASE_HANDLERS = List.of(":INFO", "org.eclipse.jetty:WARNING");

    private Logging() { }

    /** Points the log at {@code --logfile} (appending) or stderr and applies the levels. */
    public static void configure(Config config) {
        LoggerContext context = context();
        List<String> handlers = new ArrayList<>();
        handlers.addAll(BASE_HANDLERS);
        handlers.addAll(LogLevels.handlersOf(config.logLevel() == null ? "info" : config.logLevel()));
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
        root.addAppender(async(context, appender(context, logfile)));
        for (String handler : handlers) {
            int colon = handler.lastIndexOf(':');
            String name = handler.substring(0, colon);
            Logger logger = name.isEmpty() ? root : context.getLogger(name);
            logger.setLevel(LogLevels.toLogback(handler.substring(colon + 1)));
        }
    }

    /**
     * Request threads only queue their lines; one thread writes them. Measured: a line written by
     * the request thread itself (one write to stderr or the file each) cost a fifth of the
     * throughput of {@code GET /hello}. Nothing is dropped: a full queue makes the caller wait.
     */
    private static AsyncAppender async(LoggerContext context, OutputStreamAppender<ILoggingEvent> target) {
        AsyncAppender async = new AsyncAppender();
        async.setName(APPENDER + "-async");
        async.setContext(context);
        async.setQueueSize(QUEUE);
        async.setDiscardingThreshold(0);
        async.setNeverBlock(false);
        async.setMaxFlushTime(FLUSH_MILLIS);
        async.addAppender(target);
        async.start();
        return async;
    }

    /** Writes out every queued line and closes the log; Kiln calls it before it exits or re-execs. */
    public static void shutdown() {
        context().stop();
    }

    private static OutputStreamAppender<ILoggingEvent> appender(LoggerContext context, Path logfile) {
        OdooLayout layout = new OdooLayout();
        layout.setContext(context);
        layout.start();
        LayoutWrappingEncoder<ILoggingEvent> encoder = new LayoutWrappingEncoder<>();
        encoder.setContext(context);
        encoder.setLayout(layout);
        encoder.setCharset(StandardCharsets.UTF_8);
        encoder.start();
        OutputStreamAppender<ILoggingEvent> appender;
        if (logfile == null) {
            ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
            console.setTarget("System.err");
            appender = console;
        } else {
            FileAppender<ILoggingEvent> file = new FileAppender<>();
            file.setFile(logfile.toString());
            file.setAppend(true);
            appender = file;
        }
        appender.setName(APPENDER);
        appender.setContext(context);
        appender.setEncoder(encoder);
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
