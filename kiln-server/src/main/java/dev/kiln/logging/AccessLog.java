package dev.kiln.logging;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;

/**
 * The access log: one INFO line per request on the logger {@value #NAME}, in the same shape and
 * the same file as every other line, and obeying its level ({@code --log-handler=dev.kiln.http.access:WARNING}
 * turns it off). The line is encoded by the request thread and handed straight to the log's writer,
 * skipping the logging event and layout a line per request would otherwise cost.
 */
public final class AccessLog {

    public static final String NAME = "dev.kiln.http.access";
    private static final Logger LOGGER = LoggerFactory.getLogger(NAME);
    private static final OdooLayout LAYOUT = new OdooLayout();

    private AccessLog() { }

    public static boolean enabled() {
        return LOGGER.isInfoEnabled();
    }

    /** Writes {@code message} as one INFO line of database {@code db} (null: none). */
    public static void write(String db, CharSequence message) {
        BatchingAppender writer = Logging.current();
        if (writer == null) {
            LOGGER.info("{}", message);
            return;
        }
        StringBuilder line = new StringBuilder(message.length() + 80);
        LAYOUT.prefix(line, System.currentTimeMillis(), "INFO", db, NAME);
        line.append(message).append('\n');
        writer.appendEncoded(line.toString().getBytes(StandardCharsets.UTF_8));
    }
}
