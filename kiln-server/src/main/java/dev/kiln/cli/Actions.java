package dev.kiln.cli;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

import dev.kiln.config.Config;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.Postgres;
import dev.kiln.failure.KilnException;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.ParseResult;

/**
 * The shape {@code kiln db} and {@code kiln cron} share: {@code kiln <command> <action> [ARGS]
 * [OPTIONS]}, each action with its positional arguments, and the server's whole option table so
 * that {@code -c}, {@code --db_host} or {@code --data-dir} reach the same PostgreSQL the server uses.
 */
final class Actions {

    /** One parsed action: its name, the parse, and its positional values (as many as it takes). */
    record Parsed(String action, ParseResult result, List<String> values) { }

    private Actions() { }

    /**
     * Parses {@code args} ({@code <action> ...}); null when help was asked for and printed.
     *
     * @param commandLine builds an action's command line from its name and positional labels
     */
    static Parsed parse(String command, Map<String, List<String>> actions, List<String> args, PrintStream out,
                        BiFunction<String, List<String>, CommandLine> commandLine) {
        String names = String.join("|", actions.keySet().stream().sorted().toList());
        if (args.isEmpty() || args.getFirst().equals("-h") || args.getFirst().equals("--help")) {
            out.println("Usage: kiln " + command + " " + names + " [ARGS] [OPTIONS]");
            out.println("  kiln " + command + " <action> --help shows one action's arguments.");
            return null;
        }
        String action = args.getFirst();
        List<String> positional = actions.get(action);
        if (positional == null) {
            throw KilnException.usage("unknown " + command + " action '" + action + "': use " + names.replace("|", ", "));
        }
        CommandLine cl = commandLine.apply(action, positional);
        ParseResult result = KilnCommand.parse(cl, args.subList(1, args.size()));
        if (result.isUsageHelpRequested()) {
            cl.usage(out);
            return null;
        }
        List<String> values = result.matchedPositionals().stream().flatMap(p -> p.stringValues().stream()).toList();
        if (values.size() != positional.size()) {
            throw KilnException.usage("kiln " + command + " " + action + " takes " + (positional.isEmpty() ? "no arguments"
                    : String.join(" ", positional)) + " (kiln " + command + " " + action + " --help)");
        }
        return new Parsed(action, result, values);
    }

    /** What an action does with the connections to the server's PostgreSQL. */
    @FunctionalInterface
    interface Work {
        void run(ConnectionPools pools);
    }

    /**
     * Runs {@code work} against the PostgreSQL {@code config} names: the embedded one is started
     * (or attached to, when a server runs on the same data dir) and stopped again only if this
     * command started it.
     */
    static void withServer(Config config, Work work) {
        Postgres postgres = Postgres.of(config);
        try (ConnectionPools pools = ConnectionPools.of(postgres, config)) {
            postgres.await();
            work.run(pools);
        } finally {
            postgres.close();
        }
    }

    /** The command line of an action: {@code spec} plus help, its positional arguments and the server's options. */
    static CommandLine commandLine(CommandSpec spec, List<String> positional) {
        spec.addOption(OptionSpec.builder("-h", "--help").usageHelp(true).description("show this help and exit").build());
        if (!positional.isEmpty()) {
            spec.addPositional(PositionalParamSpec.builder().arity("0..*").type(List.class)
                    .auxiliaryTypes(String.class).paramLabel(String.join(" ", positional)).build());
        }
        ServerCommand.addTableOptions(spec);
        CommandLine cl = new CommandLine(spec);
        cl.setOverwrittenOptionsAllowed(true);
        cl.setExpandAtFiles(false);
        cl.setAbbreviatedOptionsAllowed(false);
        return cl;
    }
}
