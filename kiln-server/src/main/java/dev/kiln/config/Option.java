package dev.kiln.config;

import java.util.List;
import java.util.Locale;

/**
 * One row of the option table: an Odoo configuration key and everything that derives from it.
 * {@code T} is the Java type its {@link #type} parses to, so a value read through the option is
 * typed where the row is declared ({@link Options}) rather than cast where it is used.
 *
 * @param key      Odoo's config key, also the INI key ({@code http_port})
 * @param flags    command-line names, long ones first in --help order
 * @param type     parses and formats the value
 * @param defaultValue the default as text, parsed like any other source; null for unset.
 *                 {@code ~} stands for the home folder.
 * @param help     one line for --help and the reference
 * @param later    which later issue makes the option take effect, or null when it does today
 * @param kind     how the command line gives the value
 * @param saved    whether {@code -s} writes it (Odoo never saves one-shot actions such as -i, -u)
 */
public record Option<T>(
        String key,
        List<String> flags,
        ValueType<T> type,
        String defaultValue,
        String help,
        String later,
        Kind kind,
        boolean saved) {

    /** How the option appears on the command line. */
    public enum Kind {
        /** takes one value ({@code --http-port 8070}); a later occurrence replaces an earlier one */
        VALUE,
        /** takes one value and may repeat; values accumulate ({@code --log-handler}) */
        REPEATABLE,
        /** takes no value and sets True ({@code --proxy-mode}) */
        FLAG,
        /** takes no value and sets False ({@code --no-http} for {@code http_enable}) */
        NEGATING_FLAG
    }

    public Option {
        flags = List.copyOf(flags);
    }

    /** The environment variable: KILN_ and the key in capitals (the config file alone is KILN_RC). */
    public String env() {
        return key.equals("config") ? "KILN_RC" : "KILN_" + key.toUpperCase(Locale.ROOT);
    }

    /** The flag messages name: the first long one; the key for an option without flags. */
    public String flag() {
        if (flags.isEmpty()) {
            return key;
        }
        return flags.stream().filter(f -> f.startsWith("--")).findFirst().orElse(flags.getFirst());
    }

    /** Whether the option belongs in the config file at all (the file cannot name itself or save). */
    public boolean inFile() {
        return !key.equals("config") && !key.equals("save");
    }

    /** Whether an environment variable may set it; -s from the environment would surprise. */
    public boolean inEnvironment() {
        return !key.equals("save");
    }
}
