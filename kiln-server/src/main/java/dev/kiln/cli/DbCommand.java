package dev.kiln.cli;

import java.io.Console;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import dev.kiln.addons.AddonLoader;
import dev.kiln.config.Config;
import dev.kiln.config.ConfigLoader;
import dev.kiln.db.DatabaseManager;
import dev.kiln.db.Notifications;
import dev.kiln.failure.KilnException;
import dev.kiln.logging.Logging;
import dev.kiln.registry.DatabaseService;
import dev.kiln.registry.Registries;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * {@code kiln db list|create|drop|duplicate|backup|restore ...}: the database manager from the
 * command line. Each takes the server's option table, so {@code -c}, {@code --db_host} and
 * {@code --data-dir} reach the same PostgreSQL the server uses; the embedded one is started (or
 * attached to, when a server runs on the same data dir) and stopped again only if this command
 * started it. The first user's password never comes from the output: {@code --password}, else
 * {@code KILN_ADMIN_PASSWORD}, else asked on the terminal.
 */
final class DbCommand {

    /** Each action and its positional parameters. */
    static final Map<String, List<String>> ACTIONS = Map.of(
            "list", List.of(),
            "create", List.of("NAME"),
            "drop", List.of("NAME"),
            "duplicate", List.of("NAME", "NEW_NAME"),
            "backup", List.of("NAME", "FILE"),
            "restore", List.of("NAME", "FILE"));

    private DbCommand() { }

    static int run(List<String> args, Map<String, String> env, PrintStream out) {
        Actions.Parsed parsed = Actions.parse("db", ACTIONS, args, out, DbCommand::commandLine);
        if (parsed == null) {
            return KilnException.OK;
        }
        String action = parsed.action();
        ParseResult result = parsed.result();
        List<String> values = parsed.values();
        Config config = ConfigLoader.load(ServerCommand.given(result), env);
        Logging.configure(config);
        String login = result.matchedOptionValue("--login", "admin");
        String password = action.equals("create") ? password(result, env) : null;
        Actions.withServer(config, pools -> {
            AddonLoader catalog = AddonLoader.discover(config.addonsPath(), config.dataDir());
            DatabaseService service = new DatabaseService(new DatabaseManager(pools, config.dbTemplate()),
                    new Registries(catalog, config.serverWideModules(), pools, new Notifications(pools)), catalog, pools);
            switch (action) {
                case "list" -> service.list().forEach(out::println);
                case "create" -> service.create(values.get(0), login, password);
                case "drop" -> service.drop(values.get(0));
                case "duplicate" -> service.duplicate(values.get(0), values.get(1));
                case "backup" -> service.backup(values.get(0), Path.of(values.get(1)));
                case "restore" -> service.restore(values.get(0), Path.of(values.get(1)));
                default -> throw new IllegalStateException(action);
            }
        });
        return KilnException.OK;
    }

    private static String password(ParseResult result, Map<String, String> env) {
        String given = result.matchedOptionValue("--password", null);
        if (given == null || given.isEmpty()) {
            given = env.get("KILN_ADMIN_PASSWORD");
        }
        if (given == null || given.isEmpty()) {
            Console console = System.console();
            char[] typed = console == null ? null : console.readPassword("Password of the first user: ");
            given = typed == null ? null : new String(typed);
        }
        if (given == null || given.isEmpty()) {
            throw KilnException.usage("kiln db create needs the first user's password: --password, "
                    + "KILN_ADMIN_PASSWORD or a terminal to type it");
        }
        return given;
    }

    private static CommandLine commandLine(String action, List<String> positional) {
        CommandSpec spec = CommandSpec.create().name("db " + action);
        spec.usageMessage()
                .customSynopsis("kiln db " + action + (positional.isEmpty() ? "" : " " + String.join(" ", positional))
                        + (action.equals("create") ? " [--login LOGIN] [--password PASSWORD]" : "") + " [OPTIONS]")
                .description("The server's options choose the PostgreSQL server (and the addons path); see kiln --help.")
                .sortOptions(false)
                .width(100);
        if (action.equals("create")) {
            spec.addOption(OptionSpec.builder("--login").arity("1").type(String.class)
                    .description("login of the first user (default: admin)").build());
            spec.addOption(OptionSpec.builder("--password").arity("1").type(String.class)
                    .description("its password (default: KILN_ADMIN_PASSWORD, else asked; the command line shows in ps)")
                    .build());
        }
        return Actions.commandLine(spec, positional);
    }
}
