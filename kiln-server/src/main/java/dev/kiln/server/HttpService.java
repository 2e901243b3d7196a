package dev.kiln.server;

import dev.kiln.os.ListenSocket;
import dev.kiln.http.InFlightRequest;
import dev.kiln.http.BusSockets;
import dev.kiln.http.KilnApplication;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.PreEncodedHttpField;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.VirtualThreadPool;
import org.eclipse.jetty.websocket.server.ServerWebSocketContainer;
import org.eclipse.jetty.websocket.server.WebSocketUpgradeHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * The HTTP service of one process: Jetty on virtual threads, accepting from a close-on-exec
 * duplicate of the shared listening socket.
 *
 * <p>A stop never refuses or resets a connection the kernel has queued: {@link #drain} first closes
 * only the duplicate Jetty accepts from (the kernel keeps queueing on fd 0 for the next image or
 * for other workers), then serves every connection already accepted — including one accepted but
 * whose request has not arrived yet — with {@code Connection: close}, and stops Jetty when none
 * is left or the deadline passes. When the server stops for good (no re-exec or other worker takes
 * the socket over), it then accepts what the kernel queued meanwhile, lets go of the socket at once
 * and serves what it took (Puma's {@code drain_on_shutdown}): a connection the kernel completed is
 * served, not reset.
 */
final class HttpService {

    private static final Logger LOG = LoggerFactory.getLogger(HttpService.class);
    private static final HttpField CONNECTION_CLOSE = new PreEncodedHttpField(HttpHeader.CONNECTION, "close");
    /** How long an accepted connection may take to send its first request once a stop began. */
    private static final Duration FIRST_REQUEST_GRACE = Duration.ofSeconds(3);

    /** Lets accepted connections reach the selector before the stop looks for them. */
    private static final Duration REGISTRATION_SETTLE = Duration.ofMillis(100);

    private final Server server;
    private final ServerConnector connector;
    private final ServerSocketChannel acceptChannel;
    private final ListenSocket socket;
    /** The connections the last sweep took from the kernel's queue, until Jetty has them. */
    private final Set<SocketChannel> adopted = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final KilnApplication application;
    /** worker_connections, when capped: it turns accepting back on as connections close, so a stop removes it first. */
    private final NetworkConnectionLimit limit;
    private volatile boolean draining;

    HttpService(ListenSocket socket, KilnApplication application) throws Exception {
        this(socket, application, 0);
    }

    /**
     * @param maxConnections connections served at once, 0 for no cap: past it Jetty stops accepting
     *                       and the kernel queues the next ones (gunicorn's worker_connections)
     */
    HttpService(ListenSocket socket, KilnApplication application, int maxConnections) throws Exception {
        this.application = application;
        VirtualThreadPool threads = new VirtualThreadPool();
        threads.setName("kiln-http");
        server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        KilnApplication.configure(http);
        connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http)) {
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
        server.addConnector(connector);
        server.setHandler(new CloseWhenDraining(withBusSockets(server, application)));
        server.setStopTimeout(0);
    }

    /**
     * {@code application} behind Jetty's websocket upgrade for {@code /websocket} (the bus), when it
     * serves databases; every other request only pays one string comparison.
     */
    private static Handler withBusSockets(Server server, KilnApplication application) {
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
            connector.setAccepting(false);  // before the websockets close and free their slots
        }
        if (application.busSockets() != null) {
            // long-lived: told to reconnect (1012 when another image or worker takes over, else 1001), not waited for
            application.busSockets().closeAll(!last.getAsBoolean());
        }
        boolean clean;
        try {
            stopAccepting();
            clean = awaitServed(abandoned, graceEnd, deadline);
            if (clean && last.getAsBoolean()) {
                int adopted = adoptQueuedAndRelease(ListenSocket.prepareRelease());
                if (adopted > 0) {
                    LOG.info("Serving the {} connection{} the kernel had queued", adopted, adopted == 1 ? "" : "s");
                    Thread.sleep(REGISTRATION_SETTLE.toMillis());
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

    /** Waits until no accepted connection has a request to serve; false at the deadline. */
    private boolean awaitServed(Set<Long> abandoned, long graceEnd, long deadline) throws InterruptedException {
        while (busy(abandoned, System.nanoTime() < graceEnd)) {
            if (System.nanoTime() > deadline) {
                LOG.warn("Stop timeout reached with requests still running: {}",
                        application.inFlight().stream().map(r -> r.method() + " " + r.path()).toList());
                return false;
            }
            Thread.sleep(20);
        }
        return true;
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
                for (SocketChannel channel; (channel = queue.accept()) != null; adopted++) {
                    channel.configureBlocking(false);
                    channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    this.adopted.add(channel);
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
     * that had already taken a connection from the kernel drops it, and the client sees a reset.
     * The acceptor then hands over the connection it may have just taken, and waits (not accepting).
     */
    private void stopAccepting() throws InterruptedException {
        connector.setAccepting(false);
        try {
            acceptChannel.close();
        } catch (IOException e) {
            LOG.warn("Closing the accept channel failed: {}", e.toString());
        }
        Thread.sleep(REGISTRATION_SETTLE.toMillis());
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
        if (inGrace && !adopted.isEmpty()) {
            // a connection taken from the kernel's queue reaches the selector later on a busy machine
            Set<Object> registered = new java.util.HashSet<>();
            connector.getConnectedEndPoints().forEach(e -> registered.add(e.getTransport()));
            for (SocketChannel channel : adopted) {
                if (channel.isOpen() && !registered.contains(channel)) {
                    return true;
                }
            }
        }
        for (EndPoint endPoint : connector.getConnectedEndPoints()) {
            Connection connection = endPoint.getConnection();
            if (connection == null) {
                return inGrace;
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

    void stopJetty() {
        try {
            server.stop();
        } catch (Exception e) {
            LOG.warn("Jetty did not stop cleanly: {}", e.toString());
        }
    }

    /** Adds {@code Connection: close} to every response once a stop began, so keep-alive clients reconnect elsewhere. */
    private final class CloseWhenDraining extends Handler.Wrapper {

        CloseWhenDraining(Handler application) {
            super(application);
        }

        @Override
        public boolean handle(Request request, Response response, Callback callback) throws Exception {
            if (draining) {
                response.getHeaders().add(CONNECTION_CLOSE);
            }
            return super.handle(request, response, callback);
        }
    }
}
