package dev.kiln.logging;

import java.util.List;
import java.util.Locale;
import java.util.Map;

import ch.qos.logback.classic.Level;

import dev.kiln.config.LogLevelNames;

/**
 * Odoo's logging vocabulary in Logback's terms. {@code --log-level} is a preset of logger levels
 * (Odoo's PSEUDOCONFIG_MAPPER, with {@code odoo} read as {@code dev.kiln} and {@code werkzeug} as
 * Jetty); {@code --log-handler} entries are applied after it, so they win. The names themselves
 * are {@link LogLevelNames}: the option table validates them without knowing Logback.
 */
public final class LogLevels {

    private static final Map<String, List<String>> PRESET_HANDLERS = Map.of(
            "debug_rpc_answer", List.of("dev.kiln:DEBUG", "dev.kiln.sql:INFO", "dev.kiln.rpc:DEBUG"),
            "debug_rpc", List.of("dev.kiln:DEBUG", "dev.kiln.sql:INFO", "dev.kiln.rpc.request:DEBUG"),
            "debug", List.of("dev.kiln:DEBUG", "dev.kiln.sql:INFO"),
            "debug_sql", List.of("dev.kiln.sql:DEBUG"),
            "info", List.of(),
            "warn", List.of("dev.kiln:WARNING", "org.eclipse.jetty:WARNING"),
            "error", List.of("dev.kiln:ERROR", "org.eclipse.jetty:ERROR"),
            "critical", List.of("dev.kiln:ERROR", "org.eclipse.jetty:ERROR"));

    private LogLevels() { }

    /** The logger:LEVEL entries a --log-level preset stands for. */
    public static List<String> handlersOf(String preset) {
        List<String> handlers = PRESET_HANDLERS.get(preset);
        if (handlers == null) {
            throw new IllegalArgumentException("unknown log level " + preset);
        }
        return handlers;
    }

    /** Logback's level for an Odoo level name; null for NOTSET (inherit from the parent). */
    public static Level toLogback(String name) {
        return switch (name.toUpperCase(Locale.ROOT)) {
            case "TRACE" -> Level.TRACE;
            case "DEBUG" -> Level.DEBUG;
            case "INFO" -> Level.INFO;
            case "WARNING", "WARN" -> Level.WARN;
            case "ERROR", "CRITICAL" -> Level.ERROR;
            case "OFF" -> Level.OFF;
            case "NOTSET" -> null;
            default -> throw new IllegalArgumentException("unknown level " + name);
        };
    }
}
