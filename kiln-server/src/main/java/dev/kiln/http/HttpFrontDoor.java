package dev.kiln.http;

import dev.kiln.addons.LoadedAddons;
import dev.kiln.logging.AccessLog;
import dev.kiln.logging.AccessRefusals;
import dev.kiln.metrics.KilnMetrics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.http.HttpCompliance;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kiln's front door: the one Jetty handler. It converts each request once ({@link JettyRequest}),
 * hands it to the Jetty-free {@link Dispatcher}, and writes the {@link Outcome} it gets back
 * ({@link OutcomeWriter}); it owns what is about the exchange rather than the application: the
 * table of requests in flight, the server's answer in a handler's stead ({@link #abort}), and the
 * access log. It knows nothing of the server mode that runs it.
 *
 * <p>{@link #inFlight()}, {@link #requestsServed()} and {@link #requestsInFlight()} feed the server's
 * time limits and statistics; every request is registered on entry and released in {@code finally}.
 *
 * <p>Built one of two ways: {@link #withoutDatabases} or {@link #withDatabases}.
 */
public final class HttpFrontDoor extends Handler.Abstract {

    private static final Logger LOG = LoggerFactory.getLogger(HttpFrontDoor.class);

    private final HttpOptions options;
    private final Dispatcher dispatcher;
    private final OutcomeWriter writer;
    /** The bus websockets; null without databases. */
    private final BusSockets busSockets;
    private final Health health;
    private final AtomicLong ids = new AtomicLong();
    private final ConcurrentHashMap<Long, InFlightRequest> inFlight = new ConcurrentHashMap<>();
    private final LongAdder served = new LongAdder();

    private HttpFrontDoor(HttpOptions options, Dispatcher dispatcher, BusSockets busSockets, Health health) {
        this.options = options;
        this.dispatcher = dispatcher;
        this.writer = new OutcomeWriter(options);
        this.busSockets = busSockets;
        this.health = health;
    }

    /** Kiln serving no database: the static files and {@code auth=none} routes of {@code addons}, and the external API's {@code common}. */
    public static HttpFrontDoor withoutDatabases(LoadedAddons addons, HttpOptions options) {
        AccessRefusals refusals = new AccessRefusals(options.refusals());
        Health health = new Health(null, () -> 0);
        return new HttpFrontDoor(options, Dispatcher.withoutDatabases(addons, options, refusals, health), null, health);
    }

    /**
     * Kiln serving databases: the server-wide addons' routes, the routes of the addons installed in
     * each database, sessions, the external API, the database manager and the bus websockets.
     *
     * @param staticFolders the static folders served, by addon: every addon on the addons path (as
     *                      Odoo serves the static files of every module it can see)
     */
    public static HttpFrontDoor withDatabases(LoadedAddons serverWide, HttpOptions options, Databases databases,
                                              Map<String, Path> staticFolders, DatabaseManagerRoutes databaseManager) {
        AccessRefusals refusals = new AccessRefusals(options.refusals());
        Health health = new Health(databases.pools()::serverAnswers, databases.registries()::loading);
        Dispatcher dispatcher = Dispatcher.withDatabases(serverWide, options, refusals, databases, staticFolders, databaseManager,
                health);
        return new HttpFrontDoor(options, dispatcher, new BusSockets(databases, options, refusals), health);
    }

    /**
     * Settings the server applies to its {@link HttpConfiguration}: Kiln judges odd paths itself (an
     * encoded {@code ..} under {@code /static/} is a 404 from Kiln, not a 400 from the parser), and
     * the server does not advertise its software version.
     */
    public static void configure(HttpConfiguration config) {
        config.setUriCompliance(UriCompliance.from(EnumSet.of(
                UriCompliance.Violation.AMBIGUOUS_PATH_SEGMENT, UriCompliance.Violation.AMBIGUOUS_EMPTY_SEGMENT,
                UriCompliance.Violation.AMBIGUOUS_PATH_SEPARATOR, UriCompliance.Violation.AMBIGUOUS_PATH_PARAMETER,
                UriCompliance.Violation.AMBIGUOUS_PATH_ENCODING, UriCompliance.Violation.SUSPICIOUS_PATH_CHARACTERS,
                UriCompliance.Violation.ILLEGAL_PATH_CHARACTERS)));
        // no leeway in framing: a bare LF ending a header line, duplicate Content-Length, obsolete line
        // folding... are 400s, as a proxy in front may read them otherwise than Jetty (smuggling)
        config.setHttpCompliance(HttpCompliance.STRICT);
        config.setSendServerVersion(false);
        config.setSendXPoweredBy(false);
    }

    /** The bus websockets ({@code /websocket}) the server mounts beside this door; null without databases. */
    public BusSockets busSockets() {
        return busSockets;
    }

    /** What the health probes answer; the server keeps it current. */
    public Health health() {
        return health;
    }

    /** The requests being handled now (a snapshot). */
    public List<InFlightRequest> inFlight() {
        return List.copyOf(inFlight.values());
    }

    /** Requests completed since start. */
    public long requestsServed() {
        return served.sum();
    }

    public int requestsInFlight() {
        return inFlight.size();
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        long start = System.nanoTime();
        Long id = ids.incrementAndGet();
        Thread thread = Thread.currentThread();
        AbortableResponse abortable = null;
        if (options.abortable()) {
            abortable = new AbortableResponse(request, response, callback, thread);
            response = abortable;
        }
        JettyRequest converted = new JettyRequest(request, options, abortable);
        String method = converted.method();
        String rawPath = converted.rawPath();
        inFlight.put(id, new InFlightRequest(id, method, rawPath, start, thread, abortable));
        KilnMetrics.requestStarted();
        long bytes = 0;
        try {
            bytes = answer(converted, response, callback, abortable);
        } catch (AbortableResponse.Answered dropped) {
            LOG.debug("{} {}: the server answered it already; the handler's response is dropped", method, rawPath);
        } finally {
            inFlight.remove(id);
            served.increment();
            KilnMetrics.requestEnded(converted.routePattern(), method, response.getStatus(), System.nanoTime() - start,
                    request.getLength(), bytes);
            if (abortable != null) {
                abortable.finish();
            }
            // the server wrote the access line of a request it answered (abort)
            if (options.accessLog() && (abortable == null || !abortable.answeredByServer())) {
                logAccess(converted, method, rawPath, response.getStatus(), bytes, start);
            }
        }
        return true;
    }

    /** Serves the request and writes its outcome, or the outcome of its failure; returns the body bytes sent. */
    private long answer(JettyRequest request, Response response, Callback callback, AbortableResponse abortable) throws Exception {
        Outcome outcome;
        try {
            outcome = dispatcher.serve(request);
        } catch (AbortableResponse.Answered dropped) {
            throw dropped;
        } catch (Throwable failure) {
            if (answeredByServer(abortable)) {
                return 0;
            }
            outcome = dispatcher.failed(request, failure);
        }
        try {
            return writer.write(outcome, response, callback);
        } catch (AbortableResponse.Answered dropped) {
            throw dropped;
        } catch (Throwable failure) {
            if (answeredByServer(abortable)) {
                return 0;
            }
            return writer.replace(dispatcher.failed(request, failure), response, callback);
        }
    }

    /** A handler the server answered for may fail on its way out (interrupted): not an error of its own. */
    private static boolean answeredByServer(AbortableResponse abortable) {
        return abortable != null && abortable.answeredByServer();
    }

    /**
     * Answers a request from the calling thread (a limit's watchdog) in its handler's stead: 500 with
     * {@code message} as plain text, then its thread is interrupted. Nothing happens when its handler
     * began answering (or returned): exactly one of them writes the response, and a handler that
     * answers later has its response dropped (a database route's transaction rolls back). Only with
     * {@link HttpOptions#abortable}; returns whether the client got the error.
     */
    public boolean abort(InFlightRequest request, String message) {
        AbortableResponse response = request.response();
        if (response == null || !response.claimForServer()) {
            return false;
        }
        byte[] body = (message + "\n").getBytes(StandardCharsets.UTF_8);
        if (options.accessLog()) {
            // before the answer: once the exchange completes, its request may no longer be read
            logAccess(new JettyRequest(response.getRequest(), options, null), request.method(), request.path(), 500,
                    body.length, request.startNanos());
        }
        response.answer(500, body);
        return true;
    }

    /** {@code client "METHOD path" status bytes duration}: built only when the logger is on. */
    private static void logAccess(KilnRequest request, String method, String rawPath, int status, long bytes, long start) {
        if (!AccessLog.enabled()) {
            return;
        }
        long micros = (System.nanoTime() - start) / 1000;
        StringBuilder line = new StringBuilder(96)
                .append(request.remoteAddress())
                .append(" \"").append(method).append(' ').append(rawPath).append("\" ")
                .append(status).append(' ').append(bytes).append(' ')
                .append(micros / 1000).append('.').append(micros % 1000 / 100).append("ms");
        AccessLog.write(null, line);
    }
}
