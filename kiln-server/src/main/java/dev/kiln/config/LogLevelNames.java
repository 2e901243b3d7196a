package dev.kiln.config;

import java.util.List;
import java.util.Locale;

/**
 * The words {@code --log-level} and {@code --log-handler} accept, as Odoo spells them. They live
 * with the option table, which validates them; {@code dev.kiln.logging.LogLevels} maps them onto
 * Logback and must know every preset listed here.
 */
public final class LogLevelNames {

    /** Accepted by --log-level, in the order --help shows them. */
    public static final List<String> PRESETS = List.of(
            "debug_rpc_answer", "debug_rpc", "debug", "debug_sql", "info", "warn", "error", "critical");

    /** Accepted after the colon of a --log-handler entry (any case). */
    public static final List<String> HANDLER_LEVELS = List.of(
            "TRACE", "DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "NOTSET", "OFF");

    private LogLevelNames() { }

    public static boolean isLevel(String name) {
        return HANDLER_LEVELS.contains(name.toUpperCase(Locale.ROOT));
    }
}
