package dev.kiln.http;

import dev.kiln.auth.Sessions;
import dev.kiln.bus.BusDispatcher;
import dev.kiln.db.Isolation;
import dev.kiln.logging.AccessRefusals;
import dev.kiln.metrics.KilnMetrics;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.server.ServerUpgradeRequest;
import org.eclipse.jetty.websocket.server.ServerUpgradeResponse;
import org.eclipse.jetty.websocket.server.ServerWebSocketContainer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code /websocket}, Odoo's bus websocket: the upgrade (which database, which session) and the
 * sockets open now. Each socket is a {@link BusSocket}; this class holds what they share.
 *
 * <p>The database is the session cookie's ({@code session_id=<db>.<token>}) when the database
 * filter lets it through, else the {@code db} query parameter's, else the only visible one; when
 * none applies the upgrade is refused with a 404 (as a route needing a database is). Limits: a text
 * message over {@link #MAX_TEXT_BYTES} closes with 1009 (Jetty's check); sockets are pinged every
 * {@link #PING_EVERY} and closed with 4002 (Odoo's keep-alive timeout) after {@link #IDLE_TIMEOUT}
 * with nothing received, not even a pong. That check is Kiln's: the pings it sends count as
 * activity for Jetty's idle timeout, which so never fires on a socket Kiln pings.
 */
public final class BusSockets {

    private static final Logger LOG = LoggerFactory.getLogger(BusSockets.class);
    public static final String PATH = "/websocket";
    /** Close code when the server stops for good: reconnect later, maybe elsewhere. */
    public static final int GOING_AWAY = 1001;
    /** Close code when this process restarts or is replaced (reload, recycling): reconnect now. */
    public static final int RESTART = 1012;
    static final long MAX_TEXT_BYTES = 64 * 1024;
    /**
     * Divides the three keep-alive periods below, for a test suite only: a test of the keep-alive
     * timeout need not wait a real minute. A process told so says it once, as a warning.
     */
    static final String TEST_DIVISOR_PROPERTY = "kiln.test.websocket-keepalive-divisor";
    private static final int DIVISOR = divisor(System.getProperty(TEST_DIVISOR_PROPERTY));
    static final Duration PING_EVERY = Duration.ofSeconds(25).dividedBy(DIVISOR);
    static final Duration IDLE_TIMEOUT = Duration.ofSeconds(60).dividedBy(DIVISOR);
    static final Duration SILENCE_CHECK = Duration.ofSeconds(5).dividedBy(DIVISOR);

    private final Databases databases;
    private final HttpOptions options;
    private final AccessRefusals refusals;
    private final Set<BusSocket> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closing;
    private volatile int closeCode = GOING_AWAY;
    private Thread pinger;

    BusSockets(Databases databases, HttpOptions options, AccessRefusals refusals) {
        this.databases = databases;
        this.options = options;
        this.refusals = refusals;
    }

    /** Mounts {@link #PATH} on {@code container} with the limits above, and starts the pinger. */
    public void configure(ServerWebSocketContainer container) {
        container.setMaxTextMessageSize(MAX_TEXT_BYTES);
        container.setMaxBinaryMessageSize(MAX_TEXT_BYTES);
        container.setIdleTimeout(IDLE_TIMEOUT);
        container.addMapping(PATH, this::upgrade);
        synchronized (this) {
            if (pinger == null) {
                pinger = Thread.ofVirtual().name("kiln-bus-ping").start(this::pingForever);
            }
        }
    }

    /**
     * Closes every open socket: with {@link #RESTART} (1012) when this process restarts or another
     * takes its place, so clients reconnect at once (the kernel queues them meanwhile), else with
     * {@link #GOING_AWAY} (1001). Later upgrades are closed the same way.
     */
    public void closeAll(boolean restarting) {
        closeCode = restarting ? RESTART : GOING_AWAY;
        closing = true;
        for (BusSocket socket : open) {
            closeForStop(socket);
        }
    }

    void closeForStop(BusSocket socket) {
        int code = closeCode;
        socket.close(code, code == RESTART ? "server restarting: reconnect" : "server stopping");
    }

    /** Sockets open now. */
    public int openSockets() {
        return open.size();
    }

    BusDispatcher dispatcher() {
        return databases.bus();
    }

    AccessRefusals refusals() {
        return refusals;
    }

    boolean closing() {
        return closing;
    }

    void opened(BusSocket socket) {
        if (open.add(socket)) {
            KilnMetrics.websocket(1);
        }
    }

    void closed(BusSocket socket) {
        if (open.remove(socket)) {
            KilnMetrics.websocket(-1);
        }
    }

    /** The session's user, empty when the session is gone; throws on a database failure. */
    Optional<Long> user(String db, String token) throws SQLException {
        try (Connection connection = databases.pools().connection(db, Isolation.READ_COMMITTED)) {
            Optional<Long> uid = Sessions.find(connection, db, token).map(Sessions.Session::uid);
            connection.commit();
            return uid;
        }
    }

    private Object upgrade(ServerUpgradeRequest request, ServerUpgradeResponse response, org.eclipse.jetty.util.Callback callback) {
        JettyRequest converted = new JettyRequest(request, options, null);
        String origin = converted.headerValue("Origin");
        if (crossSite(origin, converted.host())) {
            // a page of another site would subscribe with the visitor's cookie (cross-site websocket hijacking)
            refusals.refused("GET {}: websocket from Origin {} refused: not this site's (--websocket-allowed-origins)", PATH, origin);
            Response.writeError(request, response, callback, 403, "Origin not allowed: " + origin);
            return null;
        }
        SessionCookie cookie = converted.sessionCookie();
        String db = databases.selector().select(converted.host(), cookie == null ? null : cookie.db(),
                converted.queryParam("db")).orElse(null);
        if (db == null) {
            Response.writeError(request, response, callback, 404, "No database: log in or name one with ?db=");
            return null;
        }
        return new BusSocket(this, db, cookie == null ? null : cookie.tokenFor(db));
    }

    /**
     * Whether a browser page of another site asks for the socket: its {@code Origin} (scheme, host,
     * port) names neither this request's host nor an origin of {@code websocket_allowed_origins}. A
     * client without {@code Origin} is not a browser, and sends only the cookies it chose.
     */
    boolean crossSite(String origin, String host) {
        if (origin == null) {
            return false;
        }
        for (String allowed : options.websocketOrigins()) {
            if (allowed.equalsIgnoreCase(origin)) {
                return false;
            }
        }
        int scheme = origin.indexOf("://");
        return scheme < 0 || !origin.substring(scheme + 3).equalsIgnoreCase(host);
    }

    static int divisor(String asked) {
        if (asked == null || asked.isBlank()) {
            return 1;
        }
        int divisor;
        try {
            divisor = Integer.parseInt(asked.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(TEST_DIVISOR_PROPERTY + " is not a number: " + asked, e);
        }
        if (divisor < 1 || divisor > 60) {
            throw new IllegalArgumentException(TEST_DIVISOR_PROPERTY + " must be between 1 and 60: " + asked);
        }
        if (divisor > 1) {
            LOG.warn("Bus websockets: keep-alive periods divided by {} ({}): for a test suite only", divisor, TEST_DIVISOR_PROPERTY);
        }
        return divisor;
    }

    /** Pings every socket every {@link #PING_EVERY}, and closes those silent for {@link #IDLE_TIMEOUT} (checked every {@link #SILENCE_CHECK}). */
    private void pingForever() {
        long pinged = System.nanoTime();
        while (true) {
            try {
                Thread.sleep(SILENCE_CHECK);
                long now = System.nanoTime();
                boolean ping = now - pinged >= PING_EVERY.toNanos();
                if (ping) {
                    pinged = now;
                }
                for (BusSocket socket : open) {
                    socket.closeIfSilent(now, IDLE_TIMEOUT.toNanos());
                    if (ping) {
                        socket.ping();
                    }
                }
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                LOG.warn("Bus websocket pings: {}", e.toString());
            }
        }
    }

    static Callback logFailure(String what) {
        return Callback.from(() -> { }, failure -> LOG.debug("Bus websocket: {} failed: {}", what, failure.toString()));
    }

    static ByteBuffer empty() {
        return ByteBuffer.allocate(0);
    }
}
