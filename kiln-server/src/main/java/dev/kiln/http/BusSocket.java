package dev.kiln.http;

import dev.kiln.api.Bus;
import dev.kiln.bus.BusDispatcher;
import dev.kiln.logging.AccessRefusals;
import dev.kiln.metrics.KilnMetrics;
import org.eclipse.jetty.websocket.api.Session;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.nio.ByteBuffer;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One {@code /websocket} client, Odoo's protocol: the client sends
 * {@code {"event_name": "subscribe", "data": {"channels": [...], "last": id}}} (a new one replaces
 * the channels and the last id); the server pushes JSON arrays of messages
 * {@code [{"id", "channel", "message": {"type", "payload"}}]}, as {@code /longpolling/poll} answers
 * them: each once, in id order.
 *
 * <p>No thread waits for an idle socket: the socket registers a callback in the
 * {@link BusDispatcher}, which the listener runs on a notification (or after it reconnected); the
 * callback starts one virtual thread at most that reads above the last id sent and pushes, and
 * reads again if woken meanwhile.
 *
 * <p>Close codes: 1003 for a frame that is not such JSON or an unknown event, 1008 for a private
 * channel of another user ({@code user/<uid>} is private to uid), 1013 for more than
 * {@link #RATE_MESSAGES} messages in {@link #RATE_WINDOW_NANOS}, 4001 when the session of the
 * cookie is gone (expired or logged out), 1001 when the server stops, 1012 when it restarts or is replaced (reconnect now); 1009 (too large) and 4002
 * (keep-alive timeout) come from {@link BusSockets}' limits.
 */
public final class BusSocket implements Session.Listener.AutoDemanding {

    private static final Logger LOG = LoggerFactory.getLogger(BusSocket.class);
    private static final JsonMapper JSON = JsonMapper.builder().build();
    static final int RATE_MESSAGES = 100;
    static final long RATE_WINDOW_NANOS = 10_000_000_000L;

    private final BusSockets sockets;
    private final BusDispatcher dispatcher;
    private final String db;
    private final String token;
    private final ArrayDeque<Long> received = new ArrayDeque<>();
    private final AtomicInteger wakeUps = new AtomicInteger();
    private volatile Session session;
    /** When this client was last heard from: a message or a pong. */
    private volatile long heardNanos = System.nanoTime();
    // guarded by this: what is subscribed, from where, and which subscribe it was
    private BusDispatcher.Subscription subscription;
    private List<String> channels = List.of();
    private long last;
    private long generation;

    BusSocket(BusSockets sockets, String db, String token) {
        this.sockets = sockets;
        this.dispatcher = sockets.dispatcher();
        this.db = db;
        this.token = token;
    }

    @Override
    public void onWebSocketOpen(Session session) {
        this.session = session;
        sockets.opened(this);
        session.addIdleTimeoutListener(timeout -> {
            close(4002, "keep-alive timeout");
            return false;
        });
        if (sockets.closing()) {
            sockets.closeForStop(this);
        }
    }

    @Override
    public void onWebSocketPong(ByteBuffer payload) {
        heardNanos = System.nanoTime();
    }

    @Override
    public void onWebSocketText(String text) {
        heardNanos = System.nanoTime();
        if (flooding()) {
            close(1013, "too many messages: try again later");
            return;
        }
        JsonNode event;
        try {
            event = JSON.readTree(text);
        } catch (JacksonException e) {
            close(1003, "not JSON");
            return;
        }
        if (!event.isObject() || !"subscribe".equals(event.path("event_name").asString(""))) {
            close(1003, "unknown event: only subscribe is understood");
            return;
        }
        subscribe(event.path("data"));
    }

    @Override
    public void onWebSocketClose(int statusCode, String reason) {
        sockets.closed(this);
        synchronized (this) {
            generation++;
            if (subscription != null) {
                subscription.close();
                subscription = null;
            }
        }
    }

    @Override
    public void onWebSocketError(Throwable cause) {
        LOG.debug("Bus websocket of {}: {}", db, cause.toString());
    }

    void close(int code, String reason) {
        Session open = session;
        if (open != null && open.isOpen()) {
            open.close(code, reason, BusSockets.logFailure("close"));
        }
    }

    /**
     * Closes this socket with 4002 when its client was not heard from (no message, no pong to the
     * pings) for {@code limitNanos}. Jetty's own idle timeout cannot tell: the pings Kiln sends
     * count as activity for it.
     */
    void closeIfSilent(long now, long limitNanos) {
        if (now - heardNanos > limitNanos) {
            close(4002, "keep-alive timeout");
        }
    }

    void ping() {
        Session open = session;
        if (open != null && open.isOpen()) {
            open.sendPing(BusSockets.empty(), BusSockets.logFailure("ping"));
        }
    }

    /** Whether this message makes more than the allowed number in the window. */
    private boolean flooding() {
        long now = System.nanoTime();
        received.addLast(now);
        while (now - received.peekFirst() > RATE_WINDOW_NANOS) {
            received.removeFirst();
        }
        return received.size() > RATE_MESSAGES;
    }

    private void subscribe(JsonNode data) {
        JsonNode list = data.path("channels");
        JsonNode lastNode = data.path("last");
        if (!list.isArray() || !(lastNode.isMissingNode() || lastNode.isIntegralNumber())) {
            close(1003, "subscribe needs channels (a list) and last (a whole number)");
            return;
        }
        List<String> wanted = new ArrayList<>();
        for (JsonNode channel : list) {
            if (!channel.isString() || channel.asString().isEmpty()) {
                close(1003, "channels must be channel names");
                return;
            }
            wanted.add(channel.asString());
        }
        Optional<Long> uid;
        try {
            uid = user();
        } catch (SQLException | RuntimeException e) {
            LOG.warn("Bus websocket of {}: reading the session: {}", db, e.toString());
            close(1011, "server error");
            return;
        }
        if (uid == null) {
            sockets.refusals().refused("bus websocket of database '{}': subscription refused, closed 4001: session {} "
                    + "expired or unknown", db, AccessRefusals.session(token));
            close(4001, "session expired");
            return;
        }
        for (String channel : wanted) {
            if (!allowed(channel, uid)) {
                sockets.refusals().refused("bus websocket of database '{}': subscription refused, closed 1008: channel {} "
                        + "is private to its user, and this socket is {}", db, channel,
                        uid.map(id -> "uid " + id + "'s (session " + AccessRefusals.session(token) + ")").orElse("a guest's"));
                close(1008, "channel " + channel + " is private to its user");
                return;
            }
        }
        synchronized (this) {
            if (subscription != null) {
                subscription.close();
            }
            channels = List.copyOf(wanted);
            last = Math.max(0, lastNode.asLong(0));
            generation++;
            subscription = channels.isEmpty() ? null : dispatcher.subscribe(db, channels, this::wake);
        }
    }

    /** The user of the cookie's session; empty without a cookie; null when the cookie's session is gone. */
    private Optional<Long> user() throws SQLException {
        if (token == null) {
            return Optional.empty();
        }
        Optional<Long> uid = sockets.user(db, token);
        return uid.isPresent() ? uid : null;
    }

    static boolean allowed(String channel, Optional<Long> uid) {
        return Bus.mayReceive(channel, uid.map(OptionalLong::of).orElse(OptionalLong.empty()));
    }

    /** The dispatcher's callback: one pushing thread at a time, which reads again when woken meanwhile. */
    private void wake() {
        if (wakeUps.getAndIncrement() == 0) {
            Thread.ofVirtual().name("kiln-bus-socket").start(this::pushWhileWoken);
        }
    }

    private void pushWhileWoken() {
        int seen;
        do {
            seen = wakeUps.get();
            try {
                push();
            } catch (RuntimeException e) {
                LOG.warn("Bus websocket of {}: {}", db, e.toString());
            }
        } while (wakeUps.addAndGet(-seen) != 0);
    }

    private void push() {
        List<String> readChannels;
        long readLast;
        long readGeneration;
        synchronized (this) {
            readChannels = channels;
            readLast = last;
            readGeneration = generation;
        }
        Session open = session;
        if (readChannels.isEmpty() || open == null || !open.isOpen() || dispatcher.stopped()) {
            return;
        }
        List<Bus.Message> messages = dispatcher.read(db, readChannels, readLast);
        if (messages.isEmpty()) {
            return;
        }
        synchronized (this) {
            if (generation != readGeneration) {
                return;            // subscribed anew meanwhile: the new subscription reads for itself
            }
            last = messages.getLast().id();
            // sent under the lock, so a later push cannot overtake it (Jetty queues the frames in order)
            open.sendText(JSON.writeValueAsString(encode(messages)), BusSockets.logFailure("push"));
            KilnMetrics.busDelivered("websocket", messages.size());
        }
    }

    private static List<Map<String, Object>> encode(List<Bus.Message> messages) {
        List<Map<String, Object>> answer = new ArrayList<>(messages.size());
        for (Bus.Message message : messages) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("type", message.type());
            body.put("payload", message.payload());
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("id", message.id());
            entry.put("channel", message.channel());
            entry.put("message", body);
            answer.add(entry);
        }
        return answer;
    }
}
