package dev.kiln.cli;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.kiln.addons.ServerVersion;
import dev.kiln.config.Config;
import dev.kiln.config.ConfigLoader;
import dev.kiln.config.Option;
import dev.kiln.config.Options;
import dev.kiln.config.OptionsReference;
import dev.kiln.failure.KilnException;
import dev.kiln.logging.Logging;
import dev.kiln.server.Kiln;
import picocli.CommandLine;
import picocli.CommandLine.MissingParameterException;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * {@code kiln [command] [options]}. The first argument names the command when it is one;
 * otherwise the command is {@code server}, so {@code kiln -p 8070} is {@code kiln server -p 8070}.
 * Whatever goes wrong ends here as one line on stderr and an exit code: a {@link KilnException}
 * carries its own; anything else is 1, with the stack trace only in the log at debug level.
 */
public final class KilnCommand {

    private static final Logger log = LoggerFactory.getLogger(KilnCommand.class);

    /** Commands by name ({@code worker} is internal: the prefork master starts it). */
    static final List<String> COMMANDS = List.of("server", "evented", "db", "cron", "apikey", "status", "ctl", "scaffold",
            "worker");

    private KilnCommand() { }

    public static int run(String[] args) {
        return run(args, System.getenv(), System.out, System.err);
    }

    static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) {
        try {
            List<String> list = Arrays.asList(args);
            boolean named = !list.isEmpty() && COMMANDS.contains(list.getFirst());
            String command = named ? list.getFirst() : "server";
            List<String> rest = named ? list.subList(1, list.size()) : list;
            return switch (command) {
                case "server" -> server(rest, env, out, false);
                case "evented" -> server(rest, env, out, true);
                case "db" -> DbCommand.run(rest, env, out);
                case "cron" -> CronCommand.run(rest, env, out);
                case "apikey" -> ApikeyCommand.run(rest, env, out, err);
                case "status" -> StatusCommand.status(rest, env, out);
                case "ctl" -> StatusCommand.ctl(rest, env, out);
                case "scaffold" -> ScaffoldCommand.run(rest, out);
                case "worker" -> WorkerCommand.run(rest, env);
                default -> throw new IllegalStateException("no command " + command);
            };
        } catch (KilnException e) {
            err.println("kiln: " + e.getMessage());
            log.debug("kiln: {}", e.getMessage(), e);
            return e.exitCode();
        } catch (Throwable e) {
            err.println("kiln: " + describe(e));
            log.debug("unexpected failure", e);
            return KilnException.FAILURE;
        } finally {
            err.flush();
            out.flush();
        }
    }

    /**
     * Parses the server's command line and builds its configuration, without starting anything.
     * Also what a re-executed or child process calls with its own arguments.
     */
    public static Config config(List<String> args, Map<String, String> env) {
        Map<String, List<String>> given = PlainArguments.given(args)
                .orElseGet(() -> ServerCommand.given(parse(ServerCommand.commandLine(), args)));
        return ConfigLoader.load(given, env);
    }

    /** {@code kiln [server]}, or {@code kiln evented}: the same options, another server. */
    private static int server(List<String> args, Map<String, String> env, PrintStream out, boolean evented) {
        Map<String, List<String>> given = PlainArguments.given(args).orElse(null);
        if (given == null) {
            CommandLine cl = evented ? ServerCommand.eventedCommandLine() : ServerCommand.commandLine();
            ParseResult result = parse(cl, args);
            if (result.isUsageHelpRequested()) {
                cl.usage(out);
                return KilnException.OK;
            }
            if (result.isVersionHelpRequested()) {
                out.println("kiln " + version());
                return KilnException.OK;
            }
            if (result.hasMatchedOption(ServerCommand.DUMP_REFERENCE)) {
                out.print(OptionsReference.markdown());
                return KilnException.OK;
            }
            given = ServerCommand.given(result);
        }
        Config config = ConfigLoader.load(given, env);
        Logging.configure(config);
        return evented ? Kiln.startEvented(config) : Kiln.start(config);
    }

    static ParseResult parse(CommandLine cl, List<String> args) {
        try {
            return cl.parseArgs(args.toArray(String[]::new));
        } catch (UnmatchedArgumentException e) {
            throw KilnException.usage(unmatched(e));
        } catch (MissingParameterException e) {
            String flag = e.getMissing().isEmpty() || !(e.getMissing().getFirst() instanceof OptionSpec o)
                    ? "an option" : o.longestName();
            throw KilnException.usage(flag + " needs a value (kiln --help lists every option)");
        } catch (ParameterException e) {
            throw KilnException.usage(firstLine(e.getMessage()) + " (kiln --help lists every option)");
        }
    }

    private static String unmatched(UnmatchedArgumentException e) {
        String arg = e.getUnmatched().isEmpty() ? "?" : e.getUnmatched().getFirst();
        String what = arg.startsWith("-") ? "unknown option '" + arg + "'" : "unexpected argument '" + arg + "'";
        String near = arg.startsWith("--") ? nearestFlag(arg.split("=", 2)[0]) : null;
        String hint = near == null ? "" : "; did you mean " + near + "?";
        return what + hint + " (kiln --help lists every option)";
    }

    /** The table's flag closest to a mistyped one, if it is a plausible typo (edit distance <= 2). */
    static String nearestFlag(String typed) {
        String best = null;
        int bestDistance = 3;
        for (Option<?> o : Options.ALL) {
            for (String flag : o.flags()) {
                int d = distance(typed, flag);
                if (d < bestDistance) {
                    best = flag;
                    bestDistance = d;
                }
            }
        }
        return best;
    }

    private static int distance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                current[j] = Math.min(Math.min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            int[] t = previous;
            previous = current;
            current = t;
        }
        return previous[b.length()];
    }

    /** The version Maven wrote into version.properties at build time. */
    public static String version() {
        return ServerVersion.current();
    }

    private static String describe(Throwable e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + firstLine(m));
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }
}
