package dev.kiln.cli;

import java.util.List;
import java.util.Map;

import dev.kiln.config.Config;
import dev.kiln.failure.KilnException;
import dev.kiln.logging.Logging;
import dev.kiln.server.HttpWorker;
import dev.kiln.server.Kiln;

/**
 * {@code kiln worker http|cron|evented [server options]}: internal, started by the prefork master
 * with the master's own options (an HTTP worker with the listening socket on fd 0, a cron worker,
 * or the evented worker with the gevent_port socket on fd 0). Exit code 3 when it cannot boot.
 */
final class WorkerCommand {

    private WorkerCommand() { }

    static int run(List<String> args, Map<String, String> env) {
        if (args.isEmpty() || !List.of("http", "cron", "evented").contains(args.getFirst())) {
            throw KilnException.usage("kiln worker http|cron|evented [OPTIONS] is started by the prefork master (--workers N), not by hand");
        }
        List<String> options = args.subList(1, args.size());
        if (!options.isEmpty() && options.getFirst().equals("server")) {
            options = options.subList(1, options.size());     // the master was started as `kiln server ...`
        }
        Config config;
        try {
            config = KilnCommand.config(options, env);
        } catch (KilnException e) {
            throw new KilnException(HttpWorker.BOOT_FAILURE, e.getMessage(), e);
        }
        Logging.configure(config);
        return Kiln.startWorker(args.getFirst(), config);
    }
}
