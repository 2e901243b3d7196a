package dev.kiln.server;

import dev.kiln.KilnException;
import dev.kiln.config.Config;
import dev.kiln.http.KilnApplication;
import dev.kiln.os.ListenSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Set;

/**
 * One HTTP worker of the prefork server, Odoo's {@code WorkerHTTP}: a JVM the master started with
 * the listening socket on fd 0, accepting from the same kernel queue as its siblings. It tells the
 * master it is ready on its standard output (the master's pipe), stops gracefully on TERM or INT
 * (stop accepting, finish the requests in flight), and stops by itself when its master is gone, so
 * no worker outlives a master killed with SIGKILL.
 */
public final class HttpWorker extends CommonServer {

    /** The line a worker writes to its standard output once it accepts connections. */
    public static final String READY = "kiln-worker-ready";
    /** Exit code of a worker that could not boot: the master stops instead of respawning it. */
    public static final int BOOT_FAILURE = 3;

    private static final Logger LOG = LoggerFactory.getLogger(HttpWorker.class);
    private static final Duration TICK = Duration.ofSeconds(1);

    private final KilnApplication application;
    private final PrintStream toMaster;
    private volatile boolean quit;

    public HttpWorker(Config config, KilnApplication application, PrintStream toMaster) {
        super(config);
        this.application = application;
        this.toMaster = toMaster;
    }

    @Override
    public int run() {
        // HUP belongs to the master (a terminal's hangup reaches the whole group): ignored here
        signals.install(signal -> false, "INT", "TERM", "HUP", "USR1");
        long master = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
        HttpService http;
        try {
            ListenSocket socket = ListenSocket.open(config.httpInterface(), config.httpPort(), System.getenv());
            if (socket.origin() != ListenSocket.Origin.INHERITED) {
                throw KilnException.failure("a worker must get the master's listening socket on fd 0 ("
                        + ListenSocket.INHERITED_FD_ENV + "=0); 'kiln worker' is started by the prefork master only");
            }
            http = new HttpService(socket, application);
            http.start();
        } catch (KilnException e) {
            throw new KilnException(BOOT_FAILURE, "worker " + ProcessHandle.current().pid() + " could not boot: " + e.getMessage(), e);
        } catch (Exception e) {
            throw new KilnException(BOOT_FAILURE, "worker " + ProcessHandle.current().pid() + " could not boot: " + e, e);
        }
        toMaster.println(READY);
        toMaster.flush();
        try {
            while (!quit) {
                String signal = signals.poll(TICK);
                if (signal != null) {
                    handle(signal);
                }
                if (ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L) != master) {
                    LOG.error("Worker: the master (pid {}) is gone; stopping", master);
                    quit = true;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        boolean clean = http.drain(stopTimeout(), Set.of());
        LOG.info(clean ? "Worker stopped" : "Worker stopped; requests were cut short");
        return 0;
    }

    private void handle(String signal) {
        switch (signal) {
            case "INT", "TERM" -> quit = true;
            case "USR1" -> logStatistics(application.requestsServed(), application.requestsInFlight());
            default -> LOG.debug("Worker: ignoring SIG{}", signal);
        }
    }
}
