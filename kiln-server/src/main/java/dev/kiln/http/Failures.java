package dev.kiln.http;

import dev.kiln.addons.RouteSpec;
import dev.kiln.api.HttpException;
import dev.kiln.api.RpcFault;
import dev.kiln.db.DatabaseException;
import dev.kiln.db.SqlErrors;
import dev.kiln.failure.KilnException;
import dev.kiln.logging.ClientErrors;
import dev.kiln.rpc.XmlRpc;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;

/**
 * Turns every failure of a request into its outcome, in one place and in the format of the route
 * that failed: a JSON-RPC error for JSON routes, a page for http routes, an XML-RPC fault for the
 * XML-RPC endpoint. Typed HTTP exceptions keep their status; a database down or busy is a 503 (429
 * when the handler said so) with {@code Retry-After}; the rest is a 500 whose details go to the log,
 * and to the client only in debug mode. A failure before any route was chosen, or of a built-in
 * route, is the server's own refusal: logged as a client error, answered in JSON to a JSON body.
 * Knows nothing of Jetty.
 */
final class Failures {

    /** How a route answers a failure. */
    enum Format { PAGE, JSON_RPC, XML_RPC }

    private static final Logger LOG = LoggerFactory.getLogger(Failures.class);
    /** Retry-After when PostgreSQL is down: about what a restart of it takes. */
    private static final Duration RETRY_UNREACHABLE = Duration.ofSeconds(5);
    /** Retry-After when every connection is busy: a moment. */
    private static final Duration RETRY_BUSY = Duration.ofSeconds(1);

    private final boolean debug;
    private final ClientErrors clientErrors = new ClientErrors();
    /** The database down or busy: one line a second at most, however many requests meet it. */
    private final ClientErrors unavailableLines = new ClientErrors(LOG, "answered 503");

    /** @param debug {@code --dev=debug}: the failure, its stack trace and the request in the answer */
    Failures(boolean debug) {
        this.debug = debug;
    }

    /**
     * A handler's failure, carried out of its transaction with the route that failed (whose addon
     * the debug page names) and, for a JSON route, the call's id.
     */
    static final class HandlerFailure extends RuntimeException {
        final boolean json;
        final JsonNode id;
        final RouteSpec route;

        HandlerFailure(Throwable cause, boolean json, JsonNode id, RouteSpec route) {
            super(null, cause, false, false);
            this.json = json;
            this.id = id;
            this.route = route;
        }
    }

    /** The outcome of any failure that reached the dispatcher's caller. */
    Outcome of(KilnRequest request, Throwable failure) {
        RouteSpec route = null;
        if (failure instanceof HandlerFailure carried) {
            route = carried.route;
            failure = carried.getCause();
        }
        Format builtIn = route != null && route.handler() instanceof BuiltInRoute.Handler handler ? handler.route.format() : null;
        if (builtIn != null) {
            route = null;                  // the server's own endpoint: its refusals are the server's
        }
        HttpException later = failure instanceof HttpException http && http.retryAfter() != null ? http
                : unavailable(null, failure);
        if (later != null) {
            if (!(failure instanceof HttpException)) {
                unavailableLines.warn("{} {}: {}", request.method(), request.rawPath(), SqlErrors.firstLine(failure));
            }
            return comeBackLater(later, request, null);
        }
        if (builtIn == Format.XML_RPC) {
            return fault(request, failure);
        }
        if (failure instanceof HttpException http) {
            return refusal(request, http, route);
        }
        int parserStatus = request.parserStatus(failure);
        if (parserStatus > 0) {
            return Outcome.page(parserStatus);
        }
        if (route == null) {
            logFailure(failure, "{} {} failed", request.method(), request.rawPath());
        } else {
            logFailure(failure, "{} {} failed in {}", request.method(), request.rawPath(), route.where());
        }
        if (!debug) {
            return Outcome.page(500);
        }
        return new Outcome.Bytes(500, Outcome.MediaType.HTML, ErrorPages.debugPage(500, failure, request, route), List.of());
    }

    /** A typed HTTP exception: its status and message, in JSON when the server refused a JSON body. */
    private Outcome refusal(KilnRequest request, HttpException http, RouteSpec route) {
        boolean servers = route == null || http instanceof KilnRequest.Malformed;
        if (servers) {
            // the server's own refusal of a malformed request, not an addon's answer
            clientErrors.warn("{} {}: {} {} (from {})", request.method(), request.rawPath(), http.status(), http.getMessage(),
                    request.peerAddress());
        }
        Outcome outcome = route == null && request.isJson()
                ? Outcome.json(http.status(), JsonRpc.clientError(http.status(), http.getMessage()))
                : Outcome.page(http.status(), http.getMessage());
        // the rest of what the client sent cannot be trusted to frame a next request
        return servers && http.status() == 400 ? outcome.withHeader("Connection", "close") : outcome;
    }

    /** An unexpected failure of the XML-RPC endpoint: a fault, as its clients expect, the details in the log. */
    private Outcome fault(KilnRequest request, Throwable failure) {
        logFailure(failure, "{} {} failed", request.method(), request.rawPath());
        return Outcome.xml(XmlRpc.fault(RpcFault.APPLICATION_ERROR, debug ? JsonRpc.stackTrace(failure) : JsonRpc.SERVER_ERROR_MESSAGE));
    }

    /** A JSON route's handler failed: a JSON-RPC error answering its call, the failure logged unless typed. */
    Outcome jsonError(KilnRequest request, HandlerFailure failure) {
        Throwable cause = failure.getCause();
        if (!(cause instanceof HttpException)) {
            logFailure(cause, "{} {} failed in {}", request.method(), request.path(), failure.route.where());
        }
        return Outcome.json(JsonRpc.error(failure.id, cause, failure.route.addon(), debug));
    }

    /**
     * A route of database {@code db} failed: 503 when the database cannot serve now, a JSON-RPC
     * error for a JSON route; an http route's failure is rethrown, for {@link #of}.
     */
    Outcome inDatabase(String db, KilnRequest request, HandlerFailure failure) {
        Throwable cause = failure.getCause();
        HttpException later = unavailable(db, cause);
        if (later != null) {
            unavailableLines.warn("{} {}: {}", request.method(), request.path(), SqlErrors.firstLine(cause));
            return comeBackLater(later, request, failure.json ? failure.id : null);
        }
        if (!failure.json) {
            throw failure;
        }
        if (cause instanceof HttpException http && http.retryAfter() != null) {
            return comeBackLater(http, request, failure.id);
        }
        return jsonError(request, failure);
    }

    /** Database {@code db} could not be opened (its registry, a connection): 503 when it is down or busy, else 500. */
    Outcome databaseFailed(String db, KilnRequest request, KilnException failed) {
        HttpException later = unavailable(db, failed);
        if (later != null) {
            unavailableLines.warn("{} {}: {}", request.method(), request.path(), failed.getMessage());
            return comeBackLater(later, request, null);
        }
        LOG.error("{} {}: {}", request.method(), request.path(), failed.getMessage());
        String message = "database '" + db + "' is not available";
        String detail = debug ? failed.getMessage() : message;
        if (request.isJson()) {
            return Outcome.json(JsonRpc.error(null, 500, message, "KilnException", detail, null));
        }
        return Outcome.page(500, detail);
    }

    /**
     * The 503 for a failure that says the database cannot serve now rather than that the request is
     * wrong: PostgreSQL down or restarting (no connection, the connection lost, "the database system
     * is starting up"), or every connection {@code db_maxconn} allows busy. Null for any other failure.
     */
    private static HttpException unavailable(String db, Throwable failure) {
        String database = db == null ? "the database" : "database '" + db + "'";
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof DatabaseException down) {
                return switch (down.reason()) {
                    case UNREACHABLE -> new HttpException.Unavailable(database + " is not available now", RETRY_UNREACHABLE);
                    case POOL_EXHAUSTED -> new HttpException.Unavailable(database + " is busy", RETRY_BUSY);
                    default -> null;
                };
            }
            if (cause instanceof SQLException sql && SqlErrors.isServerUnavailable(sql.getSQLState())) {
                return new HttpException.Unavailable(database + " is not available now", RETRY_UNREACHABLE);
            }
        }
        return null;
    }

    /**
     * A "come back later" answer (429, 503) with its {@code Retry-After}: a JSON-RPC error in a JSON
     * request's answer (with that HTTP status, so proxies and clients that retry see it), else a page.
     */
    private Outcome comeBackLater(HttpException later, KilnRequest request, JsonNode id) {
        if (later.status() == 429) {
            clientErrors.warn("{} {}: 429 {} (from {})", request.method(), request.rawPath(), later.getMessage(),
                    request.remoteAddress());
        }
        Outcome outcome = id != null || request.isJson()
                ? Outcome.json(later.status(), JsonRpc.error(id, later, null, false))
                : Outcome.page(later.status(), later.getMessage());
        return outcome.withHeader("Retry-After", Long.toString(Math.max(1, later.retryAfter().toSeconds())));
    }

    /**
     * Logs a request's failure with its stack trace. Logback prints a throwable through its
     * {@code toString}, which an addon's exception may break: the failure is then logged by class
     * name, and the response still sent.
     */
    static void logFailure(Throwable failure, String format, Object... args) {
        Object[] withFailure = Arrays.copyOf(args, args.length + 1);
        withFailure[args.length] = failure;
        try {
            LOG.error(format, withFailure);
        } catch (RuntimeException unprintable) {
            Object[] described = Arrays.copyOf(args, args.length + 2);
            described[args.length] = failure.getClass().getName();
            described[args.length + 1] = unprintable.toString();
            LOG.error(format + ": {}, which cannot be printed ({})", described);
        }
    }
}
