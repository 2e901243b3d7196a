package dev.kiln.logging;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Map;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.LayoutBase;

/**
 * Odoo's log line: {@code 2026-11-26 14:41:42,123 4242 INFO mydb dev.kiln.http: message}, local
 * time, the database from the MDC key {@code db} ({@code ?} without one), Python's level names
 * (WARNING, not WARN) so tools that read Odoo logs read these. Stack traces follow on their own
 * lines. The date text is formatted once per second and reused; a line costs one StringBuilder.
 */
public final class OdooLayout extends LayoutBase<ILoggingEvent> {

    /** The MDC key carrying the current request's or job's database. */
    public static final String DB = "db";

    private static final DateTimeFormatter SECOND =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneId.systemDefault());

    private record Stamp(long second, String text) { }

    private final String pid = " " + ProcessHandle.current().pid() + " ";
    private volatile Stamp stamp = new Stamp(Long.MIN_VALUE, "");

    @Override
    public String doLayout(ILoggingEvent event) {
        String message = event.getFormattedMessage();
        StringBuilder line = new StringBuilder(96 + (message == null ? 4 : message.length()));
        prefix(line, event.getTimeStamp(), levelName(event.getLevel()), db(event), event.getLoggerName());
        line.append(message).append('\n');
        IThrowableProxy thrown = event.getThrowableProxy();
        if (thrown != null) {
            line.append(ThrowableProxyUtil.asString(thrown)).append('\n');
        }
        return line.toString();
    }

    /** Appends everything before the message: {@code date,ms pid LEVEL db logger: }. */
    void prefix(StringBuilder line, long millis, String level, String db, String logger) {
        int ms = (int) Math.floorMod(millis, 1000L);
        line.append(second(Math.floorDiv(millis, 1000L))).append(',')
                .append((char) ('0' + ms / 100)).append((char) ('0' + ms / 10 % 10)).append((char) ('0' + ms % 10))
                .append(pid).append(level).append(' ')
                .append(db == null || db.isEmpty() ? "?" : db).append(' ')
                .append(logger).append(": ");
    }

    private String second(long epochSecond) {
        Stamp s = stamp;
        if (s.second() != epochSecond) {
            s = new Stamp(epochSecond, SECOND.format(Instant.ofEpochSecond(epochSecond)));
            stamp = s;
        }
        return s.text();
    }

    private static String db(ILoggingEvent event) {
        Map<String, String> mdc = event.getMDCPropertyMap();
        String db = mdc == null ? null : mdc.get(DB);
        return db == null || db.isEmpty() ? "?" : db;
    }

    static String levelName(Level level) {
        return switch (level.toInt()) {
            case Level.WARN_INT -> "WARNING";
            case Level.ERROR_INT -> "ERROR";
            case Level.INFO_INT -> "INFO";
            case Level.DEBUG_INT -> "DEBUG";
            default -> level.toString();
        };
    }
}
