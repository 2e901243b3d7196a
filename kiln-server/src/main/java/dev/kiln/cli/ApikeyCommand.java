package dev.kiln.cli;

import java.io.PrintStream;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;

import dev.kiln.auth.ApiKeys;
import dev.kiln.config.Config;
import dev.kiln.config.ConfigLoader;
import dev.kiln.db.Transactions;
import dev.kiln.failure.KilnException;
import dev.kiln.logging.Logging;
import dev.kiln.registry.Registries;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * {@code kiln apikey create|list|revoke -d DB --user LOGIN ...}: a user's API keys from the command
 * line, as the user makes them through {@code /web/session/apikeys/*}. {@code create} prints the
 * new key once, on its own line (it is stored hashed and never shown again); {@code --expires}
 * takes a number of days or a date.
 */
final class ApikeyCommand {

    static final Map<String, List<String>> ACTIONS = Map.of("create", List.of(), "list", List.of(), "revoke", List.of("ID"));

    private ApikeyCommand() { }

    static int run(List<String> args, Map<String, String> env, PrintStream out, PrintStream err) {
        Actions.Parsed parsed = Actions.parse("apikey", ACTIONS, args, out, ApikeyCommand::commandLine);
        if (parsed == null) {
            return KilnException.OK;
        }
        String action = parsed.action();
        ParseResult result = parsed.result();
        Config config = ConfigLoader.load(ServerCommand.given(result), env);
        if (config.dbName().size() != 1) {
            throw KilnException.usage("kiln apikey " + action + " needs one database: -d DATABASE");
        }
        String login = result.matchedOptionValue("--user", null);
        if (login == null || login.isEmpty()) {
            throw KilnException.usage("kiln apikey " + action + " needs the key's user: --user LOGIN");
        }
        String name = result.matchedOptionValue("--name", null);
        if (action.equals("create") && (name == null || name.isBlank())) {
            throw KilnException.usage("kiln apikey create needs a name saying what the key is for: --name NAME");
        }
        Instant expires = expiry(result.matchedOptionValue("--expires", null));
        String scope = result.matchedOptionValue("--scope", null);
        long id = action.equals("revoke") ? number(parsed.values().getFirst()) : 0;
        String db = config.dbName().getFirst();
        Logging.configure(config);
        Actions.withServer(config, pools -> {
            Transactions.inTransaction(pools, db, connection -> {
                long uid = ApiKeys.userId(connection, login);
                if (uid == 0) {
                    throw KilnException.usage("database '" + db + "' has no active user '" + login + "'");
                }
                switch (action) {
                    case "create" -> {
                        ApiKeys.Created created;
                        try {
                            created = ApiKeys.create(connection, uid, name, scope, expires);
                        } catch (IllegalArgumentException invalid) {
                            throw KilnException.usage(invalid.getMessage());
                        }
                        out.println(created.key());
                        err.println("API key " + created.id() + " of '" + login + "' created; it is shown once, above.");
                    }
                    case "list" -> {
                        String format = "%-6s %-32s %-8s %-25s %s%n";
                        out.printf(format, "ID", "NAME", "SCOPE", "EXPIRES", "CREATED");
                        for (ApiKeys.Listed key : ApiKeys.list(connection, uid)) {
                            out.printf(format, key.id(), key.name(), key.scope() == null ? "-" : key.scope(),
                                    key.expires() == null ? "never" : key.expires().toInstant(), key.created().toInstant());
                        }
                    }
                    case "revoke" -> {
                        if (!ApiKeys.revoke(connection, uid, id)) {
                            throw KilnException.usage("'" + login + "' has no API key " + id);
                        }
                        out.println("API key " + id + " revoked");
                    }
                    default -> throw new IllegalStateException(action);
                }
                return null;
            });
            if (action.equals("revoke")) {
                Registries.signalCredentials(pools, db);       // the servers forget what they remembered of it
            }
        });
        return KilnException.OK;
    }

    /** {@code --expires}: a number of days from now, or a date (its start, UTC); null: never. */
    private static Instant expiry(String given) {
        if (given == null || given.isEmpty()) {
            return null;
        }
        try {
            return given.chars().allMatch(Character::isDigit)
                    ? Instant.now().plusSeconds(Long.parseLong(given) * 86_400)
                    : LocalDate.parse(given).atStartOfDay(ZoneOffset.UTC).toInstant();
        } catch (NumberFormatException | DateTimeParseException e) {
            throw KilnException.usage("--expires takes a number of days or a date (YYYY-MM-DD), not '" + given + "'");
        }
    }

    private static long number(String id) {
        try {
            return Long.parseLong(id);
        } catch (NumberFormatException e) {
            throw KilnException.usage("kiln apikey revoke takes the key's ID (kiln apikey list shows it), not '" + id + "'");
        }
    }

    private static CommandLine commandLine(String action, List<String> positional) {
        CommandSpec spec = CommandSpec.create().name("apikey " + action);
        spec.usageMessage()
                .customSynopsis("kiln apikey " + action + " -d DATABASE --user LOGIN"
                        + (action.equals("create") ? " --name NAME [--scope SCOPE] [--expires DAYS|YYYY-MM-DD]" : "")
                        + (positional.isEmpty() ? "" : " " + String.join(" ", positional)) + " [OPTIONS]")
                .description(switch (action) {
                    case "create" -> "Creates an API key of the user and prints it, once: it is stored hashed.";
                    case "list" -> "Lists the user's API keys (never the keys themselves).";
                    default -> "Revokes the user's API key ID: it stops working at once, in every process.";
                }, "The server's options choose the PostgreSQL server; see kiln --help.")
                .sortOptions(false)
                .width(100);
        spec.addOption(OptionSpec.builder("--user").arity("1").type(String.class).description("the key's user (login)").build());
        if (action.equals("create")) {
            spec.addOption(OptionSpec.builder("--name").arity("1").type(String.class).description("what the key is for").build());
            spec.addOption(OptionSpec.builder("--scope").arity("1").type(String.class)
                    .description("the one scope it serves (e.g. rpc); default: every scope").build());
            spec.addOption(OptionSpec.builder("--expires").arity("1").type(String.class)
                    .description("days from now, or a date (YYYY-MM-DD, UTC); default: never").build());
        }
        return Actions.commandLine(spec, positional);
    }
}
