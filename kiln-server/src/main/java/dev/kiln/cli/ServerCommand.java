package dev.kiln.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.kiln.config.Option;
import dev.kiln.config.Options;
import dev.kiln.config.OptionsReference;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * The picocli model of {@code kiln [server] [options]}, built from the option table so that flags
 * and --help always match it. Values stay text here; the config loader parses and validates them,
 * so the command line, the environment and the file report bad values the same way.
 */
final class ServerCommand {

    static final String DUMP_REFERENCE = "--dump-options-reference";

    private ServerCommand() { }

    static CommandLine commandLine() {
        return commandLine("server", "kiln [server] [OPTIONS]",
                "Runs the Kiln server (the default command). Options keep Odoo's names and defaults;");
    }

    /** {@code kiln evented}: the server's options, read the same way; it listens on --gevent-port. */
    static CommandLine eventedCommandLine() {
        return commandLine("evented", "kiln evented [OPTIONS]",
                "Runs the evented server alone on --gevent-port (websockets, long polling; no cron).",
                "It takes the server's options; the HTTP servers sending on the same PostgreSQL may run",
                "anywhere. Options keep Odoo's names and defaults;");
    }

    private static CommandLine commandLine(String name, String synopsis, String... intro) {
        CommandSpec spec = CommandSpec.create().name(name);
        List<String> description = new ArrayList<>(List.of(intro));
        description.addAll(List.of("each may also come from KILN_<KEY> in the environment or from <key> in the",
                "[options] section of the config file. Precedence: command line, environment,",
                "config file, default."));
        spec.usageMessage()
                .customSynopsis(synopsis)
                .description(description.toArray(String[]::new))
                .footerHeading("%n")
                .footer("Exit codes: 0 ok, 1 failure, 2 bad usage or configuration, 3 worker boot failure.",
                        "Reference: docs/options.md; configuration rules: docs/configuration.md.")
                .sortOptions(false)
                .width(100);
        spec.addOption(OptionSpec.builder("-h", "--help").usageHelp(true)
                .description("show this help and exit").build());
        spec.addOption(OptionSpec.builder("--version").versionHelp(true)
                .description("print the version and exit").build());
        spec.addOption(OptionSpec.builder(DUMP_REFERENCE).hidden(true).arity("0").type(boolean.class).build());
        addTableOptions(spec);
        CommandLine cl = new CommandLine(spec);
        cl.setOverwrittenOptionsAllowed(true);
        cl.setExpandAtFiles(false);
        cl.setUnmatchedOptionsArePositionalParams(false);
        cl.setAbbreviatedOptionsAllowed(false);
        return cl;
    }

    /** Every option of the table that has a command-line flag. */
    static void addTableOptions(CommandSpec spec) {
        for (Option<?> o : Options.ALL) {
            if (!o.flags().isEmpty()) {
                spec.addOption(optionSpec(o));
            }
        }
    }

    private static OptionSpec optionSpec(Option<?> o) {
        OptionSpec.Builder b = OptionSpec.builder(o.flags().toArray(String[]::new)).description(help(o));
        return switch (o.kind()) {
            case FLAG, NEGATING_FLAG -> b.arity("0").type(boolean.class).build();
            case VALUE -> b.arity("1").type(String.class).paramLabel("<" + o.type().label() + ">").build();
            case REPEATABLE -> b.arity("1").type(List.class).auxiliaryTypes(String.class)
                    .paramLabel("<" + o.type().label() + ">").build();
        };
    }

    private static String help(Option<?> o) {
        String d = OptionsReference.defaultLabel(o);
        String line = o.help()
                + (d.isEmpty() ? "" : " (default: " + d + ")")
                + (o.later() == null ? "" : " [takes effect with " + o.later() + "]");
        return line.replace("%", "%%"); // picocli reads descriptions as format strings
    }

    /** The texts given per option key; flags give "True" (or "False" for --no-… flags). */
    static Map<String, List<String>> given(ParseResult result) {
        Map<String, List<String>> given = new LinkedHashMap<>();
        for (Option<?> o : Options.ALL) {
            if (o.flags().isEmpty()) {
                continue;
            }
            OptionSpec matched = result.matchedOption(o.flags().getFirst());
            if (matched == null) {
                continue;
            }
            given.put(o.key(), switch (o.kind()) {
                case FLAG -> List.of("True");
                case NEGATING_FLAG -> List.of("False");
                case VALUE, REPEATABLE -> List.copyOf(matched.originalStringValues());
            });
        }
        return given;
    }
}
