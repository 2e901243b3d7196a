package dev.kiln.server;

import dev.kiln.config.Config;
import dev.kiln.failure.KilnException;
import dev.kiln.http.Health;
import dev.kiln.http.HttpFrontDoor;
import dev.kiln.http.InFlightRequest;
import dev.kiln.metrics.KilnMetrics;
import dev.kiln.os.ListenSocket;
import dev.kiln.os.Proc;
import dev.kiln.server.Limits.Limit;
import dev.kiln.server.Limits.Usage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static dev.kiln.server.ServerLoop.step;

/**
 * {@code kiln evented}, Odoo's {@code GeventServer} on its own: one process serving long-lived
 * connections (the bus's websockets and long polls, and every other route) on {@code gevent_port},
 * on virtual threads, with no cron runner. Several HTTP servers (threaded or prefork, on this host
 * or others) send the messages through PostgreSQL; this one pushes them.
 *
 * <p>Its limits suit connections that stay open: {@code worker_connections} caps the connections
 * served at once (the next ones wait in the kernel's queue); {@code limit_memory_soft} and
 * {@code limit_memory_hard} restart the process in place (same pid, socket kept), telling every
 * websocket to reconnect (1012) and ending pending polls, since a connection lives as long as its
 * client does and cannot be waited for. No request count or time limit applies. HUP restarts the
 * same way, and so does {@code --dev=reload} when an addon changes; INT/TERM stop (websockets
 * closed with 1001), a second one at once.
 */
public final class EventedServer extends CommonServer {

    private static final Logger LOG = LoggerFactory.getLogger(EventedServer.class);
    private static final Duration TICK = Duration.ofSeconds(1);

    private final HttpFrontDoor application;
    private final Limits limits;
    private final Runnable endLongPolls;
    private final Set<Long> abandoned = new HashSet<>();
    private HttpService http;
    /** {@code kiln ctl}'s socket, named after the gevent_port; null when it cannot open. */
    private StatusSocket control;

    /** @param endLongPolls stops the bus: pending long polls answer at once, so a stop does not wait for them */
    public EventedServer(Config config, HttpFrontDoor application, Runnable endLongPolls) {
        super(config);
        this.application = application;
        this.limits = Limits.evented(config);
        this.endLongPolls = endLongPolls;
    }

    @Override
    public int run() {
        signals.install(this::handleUrgent, "INT", "TERM", "HUP", "USR1");
        listen();
        application.health().started();
        serving();
        PidFile.write(config.pidfile());
        try (MetricsServer metrics = serveOwnMetrics()) {
            loop(TICK, List.of(step("limits", this::processLimits)));
            stop();
        }
        return 0;
    }

    private void listen() {
        try {
            ListenSocket socket = ListenSocket.open(config.httpInterface(), config.geventPort(), System.getenv());
            http = new HttpService(socket, application, config.workerConnections());
            http.start();
            control = openControl(socket.address().getPort(), application, "evented", () -> 0);
            LOG.info("Evented service (Jetty) running on {}:{}{}, at most {} connections at once",
                    socket.address().getHostString(), socket.address().getPort(),
                    switch (socket.origin()) {
                        case SYSTEMD -> " through socket activation";
                        case INHERITED -> " (socket kept across the restart)";
                        case BOUND -> "";
                    }, config.workerConnections());
        } catch (IOException e) {
            throw KilnException.failure("evented service: cannot listen on " + config.httpInterface() + ":"
                    + config.geventPort() + " (" + e.getMessage() + "); is another server there? see --gevent-port");
        } catch (Exception e) {
            throw new KilnException(KilnException.FAILURE, "evented service did not start: " + e, e);
        }
    }

    private boolean handleUrgent(String signal) {
        if ("INT".equals(signal) || "TERM".equals(signal)) {
            forceOnSecondStop(signal);
        }
        return false;
    }

    @Override
    protected String statusLine() {
        return "evented: " + (application.busSockets() == null ? 0 : application.busSockets().openSockets())
                + " websockets open, " + application.requestsServed() + " requests served";
    }

    @Override
    protected Health health() {
        return application.health();
    }

    @Override
    protected void statistics() {
        logStatistics(application.requestsServed(), application.requestsInFlight());
        LOG.info("Statistics: {} websockets open", application.busSockets() == null ? 0 : application.busSockets().openSockets());
    }

    /** The memory limits: over limit_memory_hard at once, abandoning the requests in flight; over the soft one, gracefully. */
    private void processLimits() {
        long rss = Proc.rss();
        long sockets = application.busSockets() == null ? 0 : application.busSockets().openSockets();
        Set<Limit> reached = limits.reached(Usage.ofProcess(application.requestsServed(), sockets, rss));
        if (reached.contains(Limit.MEMORY_HARD)) {
            LOG.error("Limit limit_memory_hard reached: RSS {} bytes > {} bytes; restarting now", rss,
                    limits.threshold(Limit.MEMORY_HARD));
            application.inFlight().stream().map(InFlightRequest::id).forEach(abandoned::add);
            KilnMetrics.limitReached("limit_memory_hard");
            restartInPlace("limit_memory_hard");
        } else if (reached.contains(Limit.MEMORY_SOFT)) {
            LOG.warn("Limit limit_memory_soft reached: RSS {} bytes > {} bytes; restarting in place",
                    rss, limits.threshold(Limit.MEMORY_SOFT));
            KilnMetrics.limitReached("limit_memory_soft");
            restartInPlace("limit_memory_soft");
        }
    }

    private void stop() {
        stopping = true;
        endLongPolls.run();
        if (http != null) {
            LOG.info("Stopping the evented service: no new connections, websockets closed, serving the requests accepted");
            boolean clean = http.drain(stopTimeout(), Set.copyOf(abandoned), () -> !phoenix);
            LOG.info(clean ? "Evented service stopped" : "Evented service stopped; requests were cut short");
        }
        if (control != null) {
            control.close();
        }
        if (!phoenix) {
            PidFile.remove(config.pidfile());
        }
    }
}
