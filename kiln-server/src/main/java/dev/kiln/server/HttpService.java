package dev.kiln.server;

import dev.kiln.addons.ServerVersion;
import dev.kiln.os.ListenSocket;
import dev.kiln.os.OsException;
import dev.kiln.http.InFlightRequest;
import dev.kiln.http.BusSockets;
import dev.kiln.http.HttpFrontDoor;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.PreEncodedHttpField;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.IdleTimeout;
import org.eclipse.jetty.io.SelectorManager;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.VirtualThreadPool;
import org.eclipse.jetty.websocket.server.ServerWebSocketContainer;
import org.eclipse.jetty.websocket.server.WebSocketUpgradeHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.channels.SelectableChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * The HTTP service of one process: Jetty on virtual threads, accepting from a close-on-exec
 * duplicate of the shared listening socket.
 *
 * <p>A stop never refuses or resets a connection the kernel has queued: {@link #drain} first closes
 * only the duplicate Jetty accepts from (the kernel keeps queueing on fd 0 for the next image or
 * for other workers) and waits until the acceptor has handed over what it took, then serves every
 * connection already accepted — including one still on its way to Jetty's selector, and one
 * whose request has not arrived yet — with {@code Connection: close}, and stops Jetty when none
 * is left or the deadline passes. Every connection is tracked from the moment the acceptor hands
 * it over ({@link Accepted}): a connection the selector has not registered yet is invisible to
 * Jetty's own list, and a stop that looked only there closed such connections unanswered.
 *
 * <p>When the server stops for good (no re-exec or other worker takes the socket over), it then
 * has the kernel complete no new connection, accepts what it queued, lets go of the socket at once
 * and serves what it took (Puma's {@code drain_on_shutdown}): a connection the kernel completed is
 * served, not reset.
 */
final class HttpService {

    private static final Logger LOG = LoggerFactory.getLogger(HttpService.class);
    private static final HttpField CONNECTION_CLOSE = new PreEncodedHttpField(HttpHeader.CONNECTION, "close");
    /** Kiln and its version on every answer; Jetty's own is not sent. */
    private static final HttpField SERVER = new PreEncodedHttpField(HttpHeader.SERVER, "Kiln/" + ServerVersion.current());
    /** How long an accepted connection may take to send its first request once a stop began. */
    private static final Duration FIRST_REQUEST_GRACE = Duration.ofSeconds(3);
    /** How long a connection must have been silent before a stop closes it as idle. */
    private static final Duration QUIET_BEFORE_CLOSE = Duration.ofMillis(20);

    private final Server server;
    private final ServerConnector connector;
    private final ServerSocketChannel acceptChannel;
    private final ListenSocket socket;
    /** Every connection taken from the kernel's queue and not yet closed. */
    private final Accepted accepted = new Accepted();
    /** Acceptor threads inside an accept: once the accept channel is closed and this is 0, nothing more comes. */
    private final AtomicInteger accepting = new AtomicInteger();
    private final HttpFrontDoor application;
    /** worker_connections, when capped: it turns accepting back on as connections close, so a stop removes it first. */
    private final NetworkConnectionLimit limit;
    private volatile boolean draining;

    HttpService(ListenSocket socket, HttpFrontDoor application) throws Exception {
        this(socket, application, 0);
    }

    /**
     * Requests handled at once (each on a virtual thread of its own): far above what the bus lets
     * wait ({@code bus_max_polls_per_db}), so that waiting clients never keep a request from a thread.
     */
    static final int MAX_TASKS = 16_384;

    /**
     * @param maxConnections connections served at once, 0 for no cap: past it Jetty stops accepting
     *                       and the kernel queues the next ones (gunicorn's worker_connections)
     */
    HttpService(ListenSocket socket, HttpFrontDoor application, int maxConnections) throws Exception {
        this.application = application;
        VirtualThreadPool threads = new VirtualThreadPool();
        threads.setName("kiln-http");
        // the executor Jetty would make itself, made here without reflection: Jetty reaches the virtual
        // threads' API reflectively (it runs on older Java too), which spins classes at every start
        threads.setVirtualThreadsExecutor(Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("kiln-http", 0).factory()));
        // Jetty's default of 200 tasks at once would let 200 waiting long polls hold every other request back.
        threads.setMaxConcurrentTasks(MAX_TASKS);
        server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        HttpFrontDoor.configure(http);
        connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http)) {
            @Override
            public void accept(int acceptorID) throws IOException {
                accepting.incrementAndGet();
                try {
                    super.accept(acceptorID);    // hands the connection to the selector manager: tracked
                } finally {
                    accepting.decrementAndGet();
                }
            }

            @Override
            protected boolean handleAcceptFailure(Throwable failure) {
                // Once draining, the accept channel was closed on purpose: end the acceptor quietly.
                return !draining && super.handleAcceptFailure(failure);
            }
        };
        this.socket = socket;
        acceptChannel = socket.openChannel();
        connector.open(acceptChannel);
        limit = maxConnections > 0 ? new NetworkConnectionLimit(maxConnections, connector) : null;
        if (limit != null) {
            connector.addBean(limit);
        }
        connector.getSelectorManager().addEventListener(accepted);
        server.addConnector(connector);
        server.setHandler(new CloseWhenDraining(withBusSockets(server, application)));
        server.setStopTimeout(0);
    }

    /**
     * {@code application} behind Jetty's websocket upgrade for {@code /websocket} (the bus), when it
     * serves databases; every other request only pays one string comparison.
     */
    private static Handler withBusSockets(Server server, HttpFrontDoor application) {
        BusSockets sockets = application.busSockets();
        if (sockets == null) {
            return application;
        }
        WebSocketUpgradeHandler upgrade = new WebSocketUpgradeHandler(ServerWebSocketContainer.ensure(server), sockets::configure) {
            @Override
            public boolean handle(Request request, Response response, Callback callback) throws Exception {
                // the hot path (/hello, every route) skips even the websocket mappings' lookup
                return BusSockets.PATH.equals(Request.getPathInContext(request))
                        ? super.handle(request, response, callback)
                        : application.handle(request, response, callback);
            }
        };
        upgrade.setHandler(application);
        return upgrade;
    }

    void start() throws Exception {
        server.start();
    }

    /**
     * Stops accepting, serves what was accepted, then stops Jetty. Requests in {@code abandoned}
     * (over a time limit) are not waited for. If {@code last} is true once those are served (it may
     * turn true meanwhile), this process lets go of the listening socket: it accepts every
     * connection the kernel queued, releases the socket at once and serves them too. Returns false
     * when the deadline cut requests short.
     */
    boolean drain(Duration timeout, Set<Long> abandoned, BooleanSupplier last) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long graceEnd = System.nanoTime() + FIRST_REQUEST_GRACE.toNanos();
        draining = true;
        if (limit != null) {
            try {
                limit.stop();
            } catch (Exception e) {
                LOG.warn("Stopping the connection limit failed: {}", e.toString());
            }
            connector.removeBean(limit);
            connector.setAccepting(false);  // the limit's stop let the connector accept again
        }
        boolean clean;
        try {
            // before the websockets are told to reconnect: a client that does so at once must reach the
            // kernel's queue (the next image's), not this image, which would take it and then drop it
            stopAccepting();
            if (application.busSockets() != null) {
                // long-lived: told to reconnect (1012 when another image or worker takes over, else 1001), not waited for
                application.busSockets().closeAll(!last.getAsBoolean());
            }
            clean = awaitServed(abandoned, graceEnd, deadline);
            if (clean && last.getAsBoolean()) {
                int adopted = adoptQueuedAndRelease(ListenSocket.prepareRelease());
                if (adopted > 0) {
                    LOG.info("Serving the {} connection{} the kernel had queued", adopted, adopted == 1 ? "" : "s");
                    clean = awaitServed(abandoned, System.nanoTime() + FIRST_REQUEST_GRACE.toNanos(), deadline);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            clean = false;
        }
        stopJetty();
        return clean;
    }

    /**
     * Waits until no accepted connection has a request to serve, then closes the idle ones and looks
     * again; false at the deadline. Jetty's own stop stops the handlers before it closes the
     * connections, and a request that came on an idle keep-alive connection in between was answered
     * 500 by the stopped server: closed first, such a connection ends with no byte of an answer,
     * which an HTTP client retries on a new connection (RFC 9110, 9.2.2), and that one the kernel
     * queues for the next holder of the socket.
     */
    private boolean awaitServed(Set<Long> abandoned, long graceEnd, long deadline) throws InterruptedException {
        while (true) {
            while (busy(abandoned, System.nanoTime() < graceEnd)) {
                if (System.nanoTime() > deadline) {
                    LOG.warn("Stop timeout reached with requests still running: {}",
                            application.inFlight().stream().map(r -> r.method() + " " + r.path()).toList());
                    return false;
                }
                Thread.sleep(20);
            }
            if (closeIdle(System.nanoTime() < graceEnd) == 0) {
                return true;
            }
            Thread.sleep(QUIET_BEFORE_CLOSE.toMillis() / 4);
        }
    }

    /**
     * Closes every connection that has no request in hand: one whose exchange is over (its parser
     * closed), and one with not a byte of a next request read that was silent for
     * {@link #QUIET_BEFORE_CLOSE}; returns how many it closed or left for a next look. A connection
     * whose request Jetty has begun to read is left while {@code patient} (the request, once read, is
     * served; closed under it, its answer would be lost and the client, given nothing, would send it
     * again), and closed after.
     */
    private int closeIdle(boolean patient) {
        int left = 0;
        for (EndPoint endPoint : connector.getConnectedEndPoints()) {
            Connection connection = endPoint.getConnection();
            if (connection == null || !endPoint.isOpen() || connection.getMessagesIn() != connection.getMessagesOut()) {
                continue;
            }
            boolean close;
            if (!(connection instanceof HttpConnection http) || http.getParser().isClose() || http.getParser().isClosed()) {
                close = true;
            } else if (http.getParser().isIdle() && http.isRequestBufferEmpty()) {
                close = !(endPoint instanceof IdleTimeout timed) || timed.getIdleFor() >= QUIET_BEFORE_CLOSE.toMillis();
            } else {
                close = !patient;
            }
            if (close) {
                endPoint.close();
            }
            left++;
        }
        return left;
    }

    /**
     * Accepts every connection the kernel has queued, hands each to Jetty, and releases the
     * listening socket the moment the queue is empty: once every process sharing the socket has
     * done so, the kernel refuses new connections instead of queueing them for no one.
     */
    private int adoptQueuedAndRelease(int devNull) {
        int adopted = 0;
        try (ServerSocketChannel queue = socket.openChannel()) {
            queue.configureBlocking(false);
            try {
                ListenSocket.stopQueueing();
            } catch (OsException e) {
                LOG.warn("The listening socket keeps queueing until released ({}): a connection that arrives in"
                        + " between is reset", e.getMessage());
            }
            try {
                for (SocketChannel channel; (channel = queue.accept()) != null; adopted++) {
                    channel.configureBlocking(false);
                    channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    connector.getSelectorManager().accept(channel);
                }
            } finally {
                // two dup2 calls right after the empty accept: the socket closes before the channel's own close
                ListenSocket.release(devNull, queue);
            }
        } catch (IOException e) {
            LOG.warn("Accepting the queued connections failed: {}", e.toString());
        }
        return adopted;
    }

    /**
     * Closes the duplicate Jetty accepts from — a close, not Jetty's interrupt: an interrupted accept
     * that had already taken a connection from the kernel drops it, and the client sees a reset —
     * and waits until the acceptor has handed over the connection it may have just taken. From
     * then on, {@link #accepted} holds every connection this process will ever have.
     */
    private void stopAccepting() throws InterruptedException {
        connector.setAccepting(false);
        connector.setIdleTimeout(FIRST_REQUEST_GRACE.toMillis());        // for the endpoints made from now on
        try {
            acceptChannel.close();
        } catch (IOException e) {
            LOG.warn("Closing the accept channel failed: {}", e.toString());
        }
        while (accepting.get() > 0) {
            Thread.sleep(1);
        }
        for (EndPoint endPoint : connector.getConnectedEndPoints()) {
            endPoint.setIdleTimeout(FIRST_REQUEST_GRACE.toMillis());
        }
    }

    private boolean busy(Set<Long> abandoned, boolean inGrace) {
        for (InFlightRequest request : application.inFlight()) {
            if (!abandoned.contains(request.id())) {
                return true;
            }
        }
        Map<Object, EndPoint> endPoints = new HashMap<>();
        connector.getConnectedEndPoints().forEach(e -> endPoints.put(e.getTransport(), e));
        for (SocketChannel channel : accepted.open()) {
            EndPoint endPoint = endPoints.get(channel);
            Connection connection = endPoint == null ? null : endPoint.getConnection();
            if (connection == null) {
                return true;           // taken from the kernel, on its way to the selector (slow on a busy machine)
            }
            long in = connection.getMessagesIn(), out = connection.getMessagesOut();
            if (in > out && abandoned.isEmpty()) {
                return true;           // a request parsed but not yet answered
            }
            if (in == 0 && inGrace) {
                return true;           // accepted before the stop; its request may still be on the way
            }
        }
        return false;
    }

    /**
     * The connections taken from the kernel's queue and not closed yet, from the acceptor's hand-over
     * to the selector (before Jetty lists them as endpoints) until their endpoint closes.
     */
    private static final class Accepted implements SelectorManager.AcceptListener {

        private final Set<SelectableChannel> channels = ConcurrentHashMap.newKeySet();

        @Override
        public void onAccepting(SelectableChannel channel) {
            channels.add(channel);
        }

        @Override
        public void onAcceptFailed(SelectableChannel channel, Throwable cause) {
            channels.remove(channel);
        }

        @Override
        public void onClosed(SelectableChannel channel) {
            channels.remove(channel);
        }

        List<SocketChannel> open() {
            List<SocketChannel> open = new ArrayList<>();
            for (SelectableChannel channel : channels) {
                if (channel.isOpen() && channel instanceof SocketChannel socket) {
                    open.add(socket);
                }
            }
            return open;
        }
    }

    void stopJetty() {
        try {
            server.stop();
        } catch (Exception e) {
            LOG.warn("Jetty did not stop cleanly: {}", e.toString());
        }
    }

    /**
     * Names Kiln in every response's {@code Server} header, and adds {@code Connection: close} to
     * every response once a stop began, so keep-alive clients reconnect elsewhere.
     */
    private final class CloseWhenDraining extends Handler.Wrapper {

        CloseWhenDraining(Handler application) {
            super(application);
        }

        @Override
        public boolean handle(Request request, Response response, Callback callback) throws Exception {
            response.getHeaders().add(SERVER);
            if (draining) {
                response.getHeaders().add(CONNECTION_CLOSE);
            }
            return super.handle(request, response, callback);
        }
    }
}
