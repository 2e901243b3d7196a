package dev.kiln.cli;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;

import dev.kiln.addons.AddonLoader;
import dev.kiln.config.Config;
import dev.kiln.config.ConfigLoader;
import dev.kiln.cron.CronManual;
import dev.kiln.cron.store.CronStore;
import dev.kiln.db.Notifications;
import dev.kiln.failure.KilnException;
import dev.kiln.logging.Logging;
import dev.kiln.registry.Registries;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/**
 * {@code kiln cron list -d DB} and {@code kiln cron run -d DB NAME}: the scheduled jobs of one
 * database, and one of them run now in this process (refused while a runner holds it). Like
 * {@code kiln db}, it takes the server's options to reach the same PostgreSQL and addons.
 */
final class CronCommand {

    static final Map<String, List<String>> ACTIONS = Map.of("list", List.of(), "run", List.of("NAME"));

    private CronCommand() { }

    static int run(List<String> args, Map<String, String> env, PrintStream out) {
        Actions.Parsed parsed = Actions.parse("cron", ACTIONS, args, out, CronCommand::commandLine);
        if (parsed == null) {
            return KilnException.OK;
        }
        String action = parsed.action();
        ParseResult result = parsed.result();
        List<String> values = parsed.values();
        Config config = ConfigLoader.load(ServerCommand.given(result), env);
        if (config.dbName().size() != 1) {
            throw KilnException.usage("kiln cron " + action + " needs one database: -d DATABASE");
        }
        String db = config.dbName().getFirst();
        Logging.configure(config);
        Actions.withServer(config, pools -> {
            if (action.equals("list")) {
                print(CronManual.list(pools, db), out);
            } else {
                AddonLoader catalog = AddonLoader.discover(config.addonsPath(), config.dataDir());
                Registries registries = new Registries(catalog, config.serverWideModules(), pools, new Notifications(pools));
                double seconds = CronManual.run(pools, registries, db, values.getFirst());
                out.printf("cron job '%s' done in %.3f s%n", values.getFirst(), seconds);
            }
        });
        return KilnException.OK;
    }

    private static void print(List<CronStore.Listed> jobs, PrintStream out) {
        String format = "%-32s %-20s %-20s %8s %-6s %-12s %s%n";
        out.printf(format, "NAME", "NEXT CALL (UTC)", "LAST CALL (UTC)", "FAILURES", "ACTIVE", "INTERVAL", "PRIORITY");
        for (CronStore.Listed job : jobs) {
            out.printf(format, job.name(), CronStore.utc(job.nextcall()), CronStore.utc(job.lastcall()), job.failureCount(),
                    job.active() ? "yes" : "no", job.intervalNumber() + " " + job.intervalType(), job.priority());
        }
    }

    private static CommandLine commandLine(String action, List<String> positional) {
        CommandSpec spec = CommandSpec.create().name("cron " + action);
        spec.usageMessage()
                .customSynopsis("kiln cron " + action + " -d DATABASE" + (positional.isEmpty() ? "" : " " + String.join(" ", positional))
                        + " [OPTIONS]")
                .description(action.equals("list")
                        ? "Lists the cron jobs of the database: next and last call, failures in a row, active."
                        : "Runs the job NAME (<addon>.<name>) now, in this process, whether due or not; refused while"
                          + " a runner holds it. Its next call is not moved.",
                        "The server's options choose the PostgreSQL server (and the addons path); see kiln --help.")
                .sortOptions(false)
                .width(100);
        return Actions.commandLine(spec, positional);
    }
}
