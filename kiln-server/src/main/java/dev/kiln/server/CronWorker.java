package dev.kiln.server;

import dev.kiln.config.Config;
import dev.kiln.cron.CronService;
import dev.kiln.os.ListenSocket;
import dev.kiln.os.Proc;
import dev.kiln.server.WorkerMessage.Ready;
import dev.kiln.server.WorkerMessage.State;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;


import static dev.kiln.server.ServerLoop.step;

/**
 * One cron worker of the prefork server, Odoo's {@code WorkerCron}: a JVM the master started that
 * serves no HTTP and runs one cron runner. It says it is ready as an HTTP worker does, stops on TERM
 * or INT once its job in progress is done (up to the stop timeout), and stops by itself when its
 * master is gone.
 */
public final class CronWorker extends PreforkWorker {

    private static final Logger LOG = LoggerFactory.getLogger(CronWorker.class);

    private final CronService cron;

    public CronWorker(Config config, CronService cron, WorkerChannel.Link toMaster) {
        super(config, toMaster);
        this.cron = cron;
    }

    @Override
    public int run() {
        signals.reclaimInterrupt();
        signals.install(signal -> false, "INT", "TERM", "HUP", "USR1");
        // fd 0 is the HTTP socket, inherited like every worker's: a cron worker serves none, and
        // holding it would keep connections queued for no one once the HTTP workers have stopped
        ListenSocket.release();
        cron.start();
        tell(new Ready(0));
        loop(step("state report", () -> tell(new State(0, 0, Proc.rss(), 0, ""))));
        boolean clean = cron.stop(stopTimeout());
        reportMetrics();
        LOG.info(clean ? "Cron worker stopped" : "Cron worker stopped; a job was cut short");
        return 0;
    }

    /** INT/TERM stop, USR1 logs statistics. A cron worker checks no limit itself: the master watches its RSS and heartbeat. */
    @Override
    protected void handle(String signal) {
        switch (signal) {
            case "INT", "TERM" -> quit = true;
            case "USR1" -> logStatistics(0, 0);
            default -> LOG.debug("Cron worker: ignoring SIG{}", signal);
        }
    }

}
