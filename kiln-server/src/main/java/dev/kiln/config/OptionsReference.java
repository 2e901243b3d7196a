package dev.kiln.config;

import java.util.stream.Collectors;

/**
 * docs/options.md, generated from {@link Options#ALL} ({@code make docs} runs
 * {@code kiln --dump-options-reference}); a test fails when the committed file differs.
 */
public final class OptionsReference {

    private OptionsReference() { }

    public static String markdown() {
        StringBuilder md = new StringBuilder();
        md.append("# Kiln options\n\n")
          .append("<!-- Generated from dev.kiln.config.Options by `make docs`; do not edit by hand. -->\n\n")
          .append("Every option can be given on the command line, as an environment variable, or as a key of the\n")
          .append("`[options]` section of the config file; the first of these that gives it wins, else the default.\n")
          .append("See [configuration.md](configuration.md) for the rules.\n\n")
          .append("| key | command line | environment | type | default | takes effect | meaning |\n")
          .append("|---|---|---|---|---|---|---|\n");
        for (Option<?> o : Options.ALL) {
            md.append("| `").append(o.key()).append("` | ")
              .append(o.flags().isEmpty() ? "none (a secret: not on the command line, where `ps` shows it)"
                      : o.flags().stream().map(f -> "`" + f + "`").collect(Collectors.joining(" ")))
              .append(" | ").append(o.inEnvironment() ? "`" + o.env() + "`" : "")
              .append(" | ").append(cell(typeLabel(o)))
              .append(" | ").append(cell(defaultLabel(o)))
              .append(" | ").append(o.later() == null ? "now" : "with " + o.later())
              .append(" | ").append(cell(o.help()))
              .append(o.inFile() ? "" : o.inEnvironment() ? " (command line and environment only)" : " (command line only)")
              .append(o.saved() || !o.inFile() ? "" : " (never written by `-s`)")
              .append(" |\n");
        }
        return md.toString();
    }

    static String typeLabel(Option<?> o) {
        return switch (o.kind()) {
            case FLAG, NEGATING_FLAG -> "flag";
            case REPEATABLE -> o.type().label() + " (repeatable)";
            case VALUE -> o.type().label();
        };
    }

    /** The default as help and docs show it: raw bytes get their MiB too; unset shows nothing. */
    public static String defaultLabel(Option<?> o) {
        String d = o.defaultValue();
        if (d == null || d.isEmpty()) {
            return "";
        }
        if (o.kind() == Option.Kind.FLAG || o.kind() == Option.Kind.NEGATING_FLAG) {
            return "";
        }
        if (o.type().label().equals("bytes")) {
            long bytes = Long.parseLong(d);
            return bytes % (1024 * 1024) == 0 ? d + " (" + bytes / (1024 * 1024) + "M)" : d;
        }
        return d;
    }

    private static String cell(String s) {
        return s.replace("|", "\\|");
    }
}
