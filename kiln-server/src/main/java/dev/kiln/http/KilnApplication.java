package dev.kiln.http;

import dev.kiln.KilnException;
import dev.kiln.addons.LoadedAddon;
import dev.kiln.addons.LoadedAddons;
import dev.kiln.addons.RouteSpec;
import dev.kiln.api.HttpException;
import dev.kiln.api.Route;
import dev.kiln.auth.Sessions;
import dev.kiln.db.DatabaseException;
import dev.kiln.db.Isolation;
import dev.kiln.db.SqlErrors;
import dev.kiln.db.Transactions;
import dev.kiln.registry.TransactionEnv;
import dev.kiln.logging.AccessLog;
import dev.kiln.logging.AccessRefusals;
import dev.kiln.registry.Registry;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.PreEncodedHttpField;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP application, Odoo's WSGI {@code Application}: one Jetty handler serving the static files
 * and routes of the loaded addons. It knows nothing of the server mode that runs it.
 *
 * <p>Request path: static file → route (exact path, then parameterised) → method (405 with
 * {@code Allow}) → auth → dispatch ({@code http}: the handler's response; {@code json}: JSON-RPC) →
 * access log. Every outcome other than success is turned into a response here, in one place.
 *
 * <p>Routes with {@code auth=public} or {@code auth=user} answer 404 when no database can be
 * selected, as Odoo answers for a route that is not available without one. The session cookie
 * ({@link SessionCookie}) names its database, which is chosen first; its session, looked up in the
 * request's transaction, gives the user of {@code auth=user} routes (a guest is sent to the login
 * page, or answered 401 with Odoo's JSON-RPC error 100 "Session expired" in the body) and the
 * token that unsafe {@code type=http} requests with a session must carry (Odoo's CSRF rule).
 * {@link SessionRoutes} log in and out.
 *
 * <p>{@link #inFlight()}, {@link #requestsServed()} and {@link #requestsInFlight()} feed the server's
 * time limits and statistics; every request is registered on entry and released in {@code finally}.
 */
public final class KilnApplication extends Handler.Abstract {

    private static final Logger LOG = LoggerFactory.getLogger(KilnApplication.class);
    /** Names the database of a request, as Odoo's {@code X-Odoo-Database}. */
    public static final String DATABASE_HEADER = "X-Kiln-Database";
    private static final HttpField HTML = new PreEncodedHttpField(HttpHeader.CONTENT_TYPE, "text/html; charset=utf-8");
    private static final HttpField JSON = new PreEncodedHttpField(HttpHeader.CONTENT_TYPE, "application/json");
    private static final String STATIC_ALLOW = "GET, HEAD";
    private static final int SMALL_FILE = 256 * 1024;
    /** Retry-After when PostgreSQL is down: about what a restart of it takes. */
    private static final java.time.Duration RETRY_UNREACHABLE = java.time.Duration.ofSeconds(5);
    /** Retry-After when every connection is busy: a moment. */
    private static final java.time.Duration RETRY_BUSY = java.time.Duration.ofSeconds(1);

    private final HttpOptions options;
    private final Router router;
    private final StaticFiles statics;
    private final boolean hasStatics;
    private final Map<String, ClassLoader> loaders = new HashMap<>();
    private final Databases databases;
    /** The web database manager under /web/database/; null when Kiln serves without databases. */
    private final DatabaseManagerRoutes databaseManager;
    /** Odoo's external API, /xmlrpc/2/* and /jsonrpc. */
    private final RpcRoutes rpcRoutes;
    /** Login, logout and the login page; null when Kiln serves without databases. */
    private final SessionRoutes sessionRoutes;
    /** The router of each database's current registry, rebuilt when the registry is. */
    private final ConcurrentHashMap<String, RegistryRoutes> registryRoutes = new ConcurrentHashMap<>();
    private final HttpField staticCache;
    private final AtomicLong ids = new AtomicLong();
    private final ConcurrentHashMap<Long, InFlightRequest> inFlight = new ConcurrentHashMap<>();
    private final LongAdder served = new LongAdder();
    private final Map<String, HttpField> contentTypes = new ConcurrentHashMap<>();
    private final BusSockets busSockets;
    /** Refused logins and accesses, with their reasons: INFO with {@code --dev=access}, DEBUG without. */
    private final AccessRefusals refusals;
    private final dev.kiln.logging.ClientErrors clientErrors = new dev.kiln.logging.ClientErrors();
    /** The database down or busy: one line a second at most, however many requests meet it. */
    private final dev.kiln.logging.ClientErrors unavailableLines = new dev.kiln.logging.ClientErrors(LOG, "answered 503");

    public KilnApplication(LoadedAddons addons, HttpOptions options) {
        this(addons, options, null, addons.staticFolders());
    }

    /**
     * @param databases    the databases to serve routes of installed addons from; null for none
     * @param staticFolders the static folders served, by addon: every addon on the addons path (as
     *                      Odoo serves the static files of every module it can see)
     */
    public KilnApplication(LoadedAddons addons, HttpOptions options, Databases databases, Map<String, Path> staticFolders) {
        this(addons, options, databases, staticFolders, null);
    }

    /** As above, with the web database manager answering every path under /web/database/. */
    public KilnApplication(LoadedAddons addons, HttpOptions options, Databases databases, Map<String, Path> staticFolders,
                           DatabaseManagerRoutes databaseManager) {
        this.options = options;
        this.databases = databases;
        this.databaseManager = databaseManager;
        this.refusals = new AccessRefusals(options.refusals());
        this.sessionRoutes = databases == null ? null : new SessionRoutes(databases, refusals);
        this.rpcRoutes = new RpcRoutes(databases, databaseManager, options, refusals);
        this.busSockets = databases == null ? null : new BusSockets(databases, options, refusals);
        this.router = new Router(addons.routes());
        this.statics = new StaticFiles(staticFolders);
        this.hasStatics = !staticFolders.isEmpty();
        this.staticCache = new PreEncodedHttpField(HttpHeader.CACHE_CONTROL,
                options.staticMaxAgeSeconds() == 0 ? "no-cache" : "public, max-age=" + options.staticMaxAgeSeconds());
        for (LoadedAddon addon : addons.addons()) {
            if (addon.classLoader() != null) {
                loaders.put(addon.name(), addon.classLoader());
            }
        }
    }

    /**
     * Settings the server applies to its {@link HttpConfiguration}: Kiln judges odd paths itself (an
     * encoded {@code ..} under {@code /static/} is a 404 from Kiln, not a 400 from the parser), and
     * the server does not advertise its software version.
     */
    public static void configure(HttpConfiguration config) {
        config.setUriCompliance(UriCompliance.from(java.util.EnumSet.of(
                UriCompliance.Violation.AMBIGUOUS_PATH_SEGMENT, UriCompliance.Violation.AMBIGUOUS_EMPTY_SEGMENT,
                UriCompliance.Violation.AMBIGUOUS_PATH_SEPARATOR, UriCompliance.Violation.AMBIGUOUS_PATH_PARAMETER,
                UriCompliance.Violation.AMBIGUOUS_PATH_ENCODING, UriCompliance.Violation.SUSPICIOUS_PATH_CHARACTERS,
                UriCompliance.Violation.ILLEGAL_PATH_CHARACTERS)));
        // no leeway in framing: a bare LF ending a header line, duplicate Content-Length, obsolete line
        // folding... are 400s, as a proxy in front may read them otherwise than Jetty (smuggling)
        config.setHttpCompliance(org.eclipse.jetty.http.HttpCompliance.STRICT);
        config.setSendServerVersion(false);
        config.setSendXPoweredBy(false);
    }

    /** The requests being handled now (a snapshot). */
    /** The bus websockets ({@code /websocket}) the server mounts beside this application; null without databases. */
    public BusSockets busSockets() {
        return busSockets;
    }

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
    public boolean handle(Request request, Response response, Callback callback) {
        long start = System.nanoTime();
        Long id = ids.incrementAndGet();
        String method = request.getMethod();
        String rawPath = request.getHttpURI().getPath();
        if (rawPath == null) {
            rawPath = "/";
        }
        Thread thread = Thread.currentThread();
        AbortableResponse abortable = null;
        if (options.abortable()) {
            abortable = new AbortableResponse(request, response, callback, thread);
            response = abortable;
        }
        inFlight.put(id, new InFlightRequest(id, method, rawPath, start, thread, abortable));
        long bytes = 0;
        try {
            bytes = serve(request, response, callback, method, rawPath);
        } catch (AbortableResponse.Answered dropped) {
            LOG.debug("{} {}: the server answered it already; the handler's response is dropped", method, rawPath);
        } catch (Throwable failure) {
            bytes = failUnlessAnswered(request, response, callback, failure, rawPath, abortable);
        } finally {
            inFlight.remove(id);
            served.increment();
            if (abortable != null) {
                abortable.finish();
            }
            // the server wrote the access line of a request it answered (abort)
            if (options.accessLog() && (abortable == null || !abortable.answeredByServer())) {
                logAccess(request, response.getStatus(), bytes, start, method, rawPath);
            }
        }
        return true;
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
        byte[] body = (message + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (options.accessLog()) {
            // before the answer: once the exchange completes, its request may no longer be read
            logAccess(response.getRequest(), 500, body.length, request.startNanos(), request.method(), request.path());
        }
        response.answer(500, body);
        return true;
    }

    private long failUnlessAnswered(Request request, Response response, Callback callback, Throwable failure, String rawPath,
                                    AbortableResponse abortable) {
        // a handler that the server answered for may fail on its way out (interrupted): not an error of its own
        if (abortable != null && abortable.answeredByServer()) {
            return 0;
        }
        try {
            return fail(request, response, callback, failure, rawPath);
        } catch (AbortableResponse.Answered dropped) {
            return 0;
        }
    }

    private long serve(Request request, Response response, Callback callback, String method, String rawPath) throws Throwable {
        String framing = unsafeFraming(request);
        if (framing != null) {
            throw new HttpException(400, framing);
        }
        if (hasStatics) {
            String addon = statics.addonOf(rawPath);
            if (addon != null) {
                return serveStatic(request, response, callback, method, addon, rawPath);
            }
        }
        String path = Request.getPathInContext(request);
        // configure() lets odd paths through so Kiln answers them; a route never matches one, so an
        // encoded slash or dot cannot reach a route a proxy rule meant to hide
        if (path == null || request.getHttpURI().hasViolations()) {
            return error(response, callback, 404, null, null);
        }
        if (sessionRoutes != null && SessionRoutes.handles(path)) {
            return serveSessionRoute(path, method, request, response, callback);
        }
        if (sessionRoutes != null && SessionRoutes.LOGIN.equals(path) && router.exact(path) == null) {
            return serveLoginPage(path, method, request, response, callback);
        }
        if (RpcRoutes.handles(path)) {
            return rpcRoutes.handle(request, response, callback, method, path);
        }
        if (databaseManager != null && path.startsWith(DatabaseManagerRoutes.PREFIX)) {
            try {
                return databaseManager.handle(request, response, callback, method, path);
            } finally {
                databases.selector().refresh();
            }
        }
        Match match = Match.of(router, path, method);
        if (match.route() != null && match.route().auth() == Route.Auth.NONE) {
            KilnRequest kilnRequest = new KilnRequest(request, path, match.params(), options);
            return dispatch(match.route(), kilnRequest, request, response, callback, loaders);
        }
        SessionCookie cookie = databases == null ? null : SessionCookie.of(request);
        String db = databases == null ? null : databases.selector().select(KilnRequest.host(request, options.proxyMode()),
                cookie == null ? null : cookie.db(), wantedDatabase(request)).orElse(null);
        if (db == null) {
            // Odoo answers 404 for a route that needs a database when none can be chosen
            return error(response, callback, match.route() != null ? 404 : match.status(), null,
                    match.route() != null ? null : match.allow());
        }
        return serveInDatabase(db, cookie == null ? null : cookie.tokenFor(db), path, method, request, response, callback);
    }

    /** Kiln's own {@code /web/login} page, when no server-wide addon serves one. */
    private long serveLoginPage(String path, String method, Request request, Response response, Callback callback) throws IOException {
        if (!"GET".equals(method) && !"HEAD".equals(method) && !"POST".equals(method)) {
            return error(response, callback, 405, null, "GET, HEAD, POST");
        }
        String host = KilnRequest.host(request, options.proxyMode());
        SessionCookie cookie = SessionCookie.of(request);
        String chosen = databases.selector().select(host, cookie == null ? null : cookie.db(), wantedDatabase(request)).orElse(null);
        return send(sessionRoutes.loginPage(new KilnRequest(request, path, Map.of(), options), host, chosen, cookie,
                SessionCookie.secure(request, options.proxyMode())), response, callback);
    }

    /** {@code /web/session/authenticate} and {@code /web/session/logout}: JSON-RPC POSTs only. */
    private long serveSessionRoute(String path, String method, Request request, Response response, Callback callback) {
        if (!"POST".equals(method)) {
            return error(response, callback, 405, null, "POST");
        }
        if (!KilnRequest.isJson(request)) {
            // a cross-site form cannot send application/json: this keeps logout and login free of CSRF
            return json(response, callback, 415, JsonRpc.notJson());
        }
        byte[] body = KilnRequest.readBody(request, options.maxBodyBytes());      // 400/413: answered in JSON by fail()
        String host = KilnRequest.host(request, options.proxyMode());
        SessionCookie cookie = SessionCookie.of(request);
        String chosen = databases.selector().select(host, cookie == null ? null : cookie.db(), wantedDatabase(request)).orElse(null);
        SessionRoutes.Answer answer = sessionRoutes.serve(path, body, host, chosen, cookie,
                SessionCookie.secure(request, options.proxyMode()), KilnRequest.clientAddress(request, options.proxyMode()));
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        if (answer.setCookie() != null) {
            response.getHeaders().add(HttpHeader.SET_COOKIE, answer.setCookie());
        }
        return json(response, callback, 200, answer.json());
    }

    private long dispatch(RouteSpec route, KilnRequest kilnRequest, Request request, Response response, Callback callback,
                          Map<String, ClassLoader> addonLoaders) throws Throwable {
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        ClassLoader addonLoader = addonLoaders.get(route.addon());
        if (addonLoader != null && addonLoader != previous) {
            thread.setContextClassLoader(addonLoader);
        }
        try {
            return route.type() == Route.Type.JSON
                    ? dispatchJson(route, kilnRequest, request, response, callback)
                    : dispatchHttp(route, kilnRequest, response, callback);
        } finally {
            if (thread.getContextClassLoader() != previous) {
                thread.setContextClassLoader(previous);
            }
        }
    }

    /** The database asked for: the {@code X-Kiln-Database} header, else {@code ?db=}. */
    private static String wantedDatabase(Request request) {
        String header = request.getHeaders().get(DATABASE_HEADER);
        if (header != null) {
            return header;
        }
        String query = request.getHttpURI().getQuery();
        return query == null || !query.contains("db=") ? null : Request.extractQueryParameters(request).getValue("db");
    }

    /**
     * A route of {@code db}'s registry, run in one transaction on {@code db}: committed when the
     * handler returns, rolled back when it throws, run again on a serialization failure or deadlock.
     * The response is sent after the commit.
     */
    private long serveInDatabase(String db, String token, String path, String method, Request request, Response response,
                                 Callback callback) throws Throwable {
        KilnRequest kilnRequest = new KilnRequest(request, path, Map.of(), options);
        Outcome outcome;
        try {
            databases.registries().prepare(db);
            outcome = Transactions.inRequest(databases.pools(), db, connection -> {
                Outcome produced = runInDatabase(db, token, connection, path, method, kilnRequest);
                if (kilnRequest.lastEnv() instanceof TransactionEnv env && env.of(connection)) {
                    env.beforeCommit();
                }
                if (response instanceof AbortableResponse abortable) {
                    abortable.claim();   // before the commit: an aborted request's work rolls back
                }
                return produced;
            });
        } catch (HandlerFailure failure) {
            HttpException later = unavailable(db, failure.getCause());
            if (later != null) {
                unavailableLines.warn("{} {}: {}", method, path, SqlErrors.firstLine(failure.getCause()));
                return comeBackLater(later, request, response, callback, failure.json ? failure.id : null);
            }
            if (failure.json) {
                if (!(failure.getCause() instanceof HttpException)) {
                    logFailure(failure.getCause(), "{} {} failed in {}", method, path, failure.route.where());
                } else if (failure.getCause() instanceof HttpException http && http.retryAfter() != null) {
                    return comeBackLater(http, request, response, callback, failure.id);
                }
                return json(response, callback, 200, JsonRpc.error(failure.id, failure.getCause(), failure.route.addon(),
                        options.debug()));
            }
            throw failure;      // answered by fail(), which knows the route
        } catch (KilnException failed) {
            HttpException later = unavailable(db, failed);
            if (later != null) {
                unavailableLines.warn("{} {}: {}", method, path, failed.getMessage());
                return comeBackLater(later, request, response, callback, null);
            }
            LOG.error("{} {}: {}", method, path, failed.getMessage());
            String message = "database '" + db + "' is not available";
            if (KilnRequest.isJson(request)) {
                return json(response, callback, 200, JsonRpc.error(null, 500, message, "KilnException",
                        options.debug() ? failed.getMessage() : message, null));
            }
            return error(response, callback, 500, options.debug() ? failed.getMessage() : message, null);
        }
        if (kilnRequest.lastEnv() instanceof TransactionEnv env) {
            env.afterCommit();
        }
        keepSessionAlive(db, token, kilnRequest.session(), request, response);
        return switch (outcome) {
            case Outcome.Status status -> error(response, callback, status.status(), status.message(), status.allow());
            case Outcome.Json answer -> json(response, callback, answer.status(), answer.body());
            case Outcome.Http answer -> send(answer.response(), response, callback);
        };
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
            if (cause instanceof java.sql.SQLException sql && SqlErrors.isServerUnavailable(sql.getSQLState())) {
                return new HttpException.Unavailable(database + " is not available now", RETRY_UNREACHABLE);
            }
        }
        return null;
    }

    /**
     * A "come back later" answer (429, 503) with its {@code Retry-After}: a JSON-RPC error in a JSON
     * request's answer (with that HTTP status, so proxies and clients that retry see it), else a page.
     */
    private long comeBackLater(HttpException later, Request request, Response response, Callback callback,
                               tools.jackson.databind.JsonNode id) {
        if (later.status() == 429) {
            clientErrors.warn("{} {}: 429 {} (from {})", request.getMethod(), request.getHttpURI().getPath(), later.getMessage(),
                    KilnRequest.clientAddress(request, options.proxyMode()));
        }
        response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(Math.max(1, later.retryAfter().toSeconds())));
        if (id != null || KilnRequest.isJson(request)) {
            return json(response, callback, later.status(), JsonRpc.error(id, later, null, false));
        }
        return error(response, callback, later.status(), later.getMessage(), null);
    }

    /**
     * Writes the session's last-seen time when it is due (at most once a minute, after the request's
     * commit, in its own short transaction) and sends the cookie again so the browser keeps it as
     * long as the session lives. A failure here is logged: it must not fail the request.
     */
    private void keepSessionAlive(String db, String token, Sessions.Session session, Request request, Response response) {
        if (session == null || !session.touchDue()) {
            return;
        }
        try {
            Transactions.inTransaction(databases.pools(), db, Isolation.READ_COMMITTED, connection -> {
                Sessions.touch(connection, token);
                return null;
            });
            response.getHeaders().add(HttpHeader.SET_COOKIE, SessionCookie.set(db, token, SessionCookie.secure(request, options.proxyMode())));
        } catch (RuntimeException e) {
            LOG.warn("database '{}': could not record a session's activity: {}", db, e.getMessage());
        }
    }

    private Outcome runInDatabase(String db, String token, java.sql.Connection connection, String path, String method,
                                  KilnRequest kilnRequest) throws java.sql.SQLException {
        RegistryRoutes routes = routesOf(databases.registries().get(db, connection));
        Match match = Match.of(routes.router(), path, method);
        if (match.route() == null) {
            return new Outcome.Status(match.status(), match.allow(), null);
        }
        RouteSpec route = match.route();
        Sessions.Session session = token == null ? null : Sessions.find(connection, db, token).orElse(null);
        kilnRequest.session(session);
        if (route.auth() == Route.Auth.USER && session == null) {
            refusals.refused("{} {}: auth=user route of addon {} in database '{}' refused: {} (from {})", method, path,
                    route.addon(), db, token == null ? "no session for this database"
                            : "session " + AccessRefusals.session(token) + " expired or unknown", kilnRequest.remoteAddress());
            return route.type() == Route.Type.JSON
                    ? new Outcome.Json(401, JsonRpc.error(null, 100, "Session expired", "SessionExpiredException", "Session expired", null))
                    : new Outcome.Http(dev.kiln.api.Response.redirect("/web/login?redirect=" + java.net.URLEncoder.encode(path, java.nio.charset.StandardCharsets.UTF_8)));
        }
        if (session != null && route.type() == Route.Type.HTTP && route.csrf() && unsafe(method)
                && !Sessions.csrfMatches(session, csrfTokenOf(kilnRequest))) {
            if (refusals.loud()) {
                refusals.refused("{} {}: CSRF token {} for session {} in database '{}' (from {})", method, path,
                        csrfTokenOf(kilnRequest) == null ? "missing" : "invalid", AccessRefusals.session(token), db,
                        kilnRequest.remoteAddress());
            } else {
                LOG.warn("{} {}: CSRF token missing or invalid for a request with a session", method, path);
            }
            return new Outcome.Status(400, null, "Session expired (invalid CSRF token)");
        }
        kilnRequest.route(match.params()).withEnv(new TransactionEnv(databases.pools(), databases.bus(), db, connection, kilnRequest.remoteAddress()));
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        ClassLoader addonLoader = routes.loaders().get(route.addon());
        if (addonLoader != null) {
            thread.setContextClassLoader(addonLoader);
        }
        try {
            if (route.type() == Route.Type.JSON) {
                if (!kilnRequest.isJson()) {
                    refusals.refused("{} {}: JSON route of addon {} in database '{}' refused: Content-Type {}", method, path,
                            route.addon(), db, kilnRequest.header("Content-Type").orElse(null));
                    return new Outcome.Json(415, JsonRpc.notJson());
                }
                JsonRpc.Call call;
                try {
                    call = JsonRpc.parse(kilnRequest.body());
                } catch (JsonRpc.Invalid invalid) {
                    return new Outcome.Json(JsonRpc.error(invalid));
                }
                kilnRequest.jsonParams(call.params());
                try {
                    return new Outcome.Json(JsonRpc.result(call.id(), route.handler().handle(kilnRequest)));
                } catch (Throwable failure) {
                    throw new HandlerFailure(failure, true, call.id(), route);
                }
            }
            Object result;
            try {
                result = route.handler().handle(kilnRequest);
            } catch (Throwable failure) {
                throw new HandlerFailure(failure, false, null, route);
            }
            if (!(result instanceof dev.kiln.api.Response answer)) {
                throw new HandlerFailure(new IllegalStateException(route.where() + " returned "
                        + (result == null ? "null" : result.getClass().getName()) + " instead of a Response"), false, null, route);
            }
            return new Outcome.Http(answer);
        } finally {
            thread.setContextClassLoader(previous);
        }
    }

    private RegistryRoutes routesOf(Registry registry) {
        RegistryRoutes current = registryRoutes.get(registry.database());
        if (current != null && current.registry() == registry) {
            return current;
        }
        Map<String, ClassLoader> addonLoaders = new HashMap<>();
        for (LoadedAddon addon : registry.addons().addons()) {
            if (addon.classLoader() != null) {
                addonLoaders.put(addon.name(), addon.classLoader());
            }
        }
        RegistryRoutes built = new RegistryRoutes(registry, new Router(registry.addons().routes()), Map.copyOf(addonLoaders));
        registryRoutes.put(registry.database(), built);
        return built;
    }

    /**
     * Why the request's body framing is refused, or null: a {@code Transfer-Encoding} other than
     * exactly {@code chunked}, or one on HTTP/1.0. A proxy in front may frame such a body otherwise
     * than Jetty does (request smuggling); RFC 9112 lets a server refuse them.
     */
    private static String unsafeFraming(Request request) {
        List<String> codings = request.getHeaders().getValuesList(HttpHeader.TRANSFER_ENCODING);
        if (codings.isEmpty()) {
            return null;
        }
        if (request.getConnectionMetaData().getHttpVersion() != org.eclipse.jetty.http.HttpVersion.HTTP_1_1) {
            return "Transfer-Encoding is HTTP/1.1's: refused on " + request.getConnectionMetaData().getHttpVersion();
        }
        if (codings.size() != 1 || !codings.getFirst().strip().equalsIgnoreCase("chunked")) {
            return "Transfer-Encoding must be exactly \"chunked\"";
        }
        return null;
    }

    private static boolean unsafe(String method) {
        return switch (method) {
            case "GET", "HEAD", "OPTIONS", "TRACE" -> false;
            default -> true;
        };
    }

    /** The {@code X-CSRF-Token} header, else the {@code csrf_token} query or form field. */
    private static String csrfTokenOf(KilnRequest request) {
        return request.header("X-CSRF-Token").or(() -> request.param("csrf_token")).orElse(null);
    }

    /** The router of one registry and its addons' class loaders. */
    private record RegistryRoutes(Registry registry, Router router, Map<String, ClassLoader> loaders) { }

    /** A route found for a path and method, or the status to answer instead (404, or 405 with Allow). */
    private record Match(RouteSpec route, Map<String, String> params, int status, String allow) {

        static Match of(Router router, String path, String method) {
            Router.Endpoint endpoint = router.exact(path);
            if (endpoint != null) {
                RouteSpec route = endpoint.select(method);
                if (route != null) {
                    return new Match(route, Map.of(), 200, null);
                }
            }
            Router.Result result = router.resolve(path, method);
            if (result.match() == null) {
                return new Match(null, Map.of(), result.allow() == null ? 404 : 405, result.allow());
            }
            return new Match(result.match().route(), result.match().params(), 200, null);
        }
    }

    /** What a database route produced, sent once its transaction has committed. */
    private sealed interface Outcome {
        record Status(int status, String allow, String message) implements Outcome { }
        record Json(int status, byte[] body) implements Outcome {
            Json(byte[] body) {
                this(200, body);
            }
        }
        record Http(dev.kiln.api.Response response) implements Outcome { }
    }

    /**
     * A handler's failure, carried to {@link #fail} (out of the transaction, which rolls back) with
     * the route that failed, whose addon the debug page names.
     */
    private static final class HandlerFailure extends RuntimeException {
        final boolean json;
        final tools.jackson.databind.JsonNode id;
        final RouteSpec route;

        HandlerFailure(Throwable cause, boolean json, tools.jackson.databind.JsonNode id, RouteSpec route) {
            super(null, cause, false, false);
            this.json = json;
            this.id = id;
            this.route = route;
        }
    }

    private long dispatchHttp(RouteSpec route, KilnRequest kilnRequest, Response response, Callback callback) throws Throwable {
        Object result;
        try {
            result = route.handler().handle(kilnRequest);
        } catch (Throwable failure) {
            throw new HandlerFailure(failure, false, null, route);
        }
        if (!(result instanceof dev.kiln.api.Response answer)) {
            throw new HandlerFailure(new IllegalStateException(route.where() + " returned "
                    + (result == null ? "null" : result.getClass().getName()) + " instead of a Response"), false, null, route);
        }
        return send(answer, response, callback);
    }

    private long dispatchJson(RouteSpec route, KilnRequest kilnRequest, Request request, Response response, Callback callback) {
        if (!KilnRequest.isJson(request)) {
            refusals.refused("{} {}: JSON route of addon {} refused: Content-Type {}", request.getMethod(), kilnRequest.path(),
                    route.addon(), request.getHeaders().get(HttpHeader.CONTENT_TYPE));
            return json(response, callback, 415, JsonRpc.notJson());
        }
        byte[] body = KilnRequest.readBody(request, options.maxBodyBytes());      // 400/413: answered in JSON by fail()
        JsonRpc.Call call;
        try {
            call = JsonRpc.parse(body);
        } catch (JsonRpc.Invalid invalid) {
            return json(response, callback, 200, JsonRpc.error(invalid));
        }
        kilnRequest.jsonParams(call.params());
        byte[] answer;
        try {
            answer = JsonRpc.result(call.id(), route.handler().handle(kilnRequest));
        } catch (Throwable failure) {
            if (!(failure instanceof HttpException)) {
                logFailure(failure, "{} {} failed in {}", request.getMethod(), kilnRequest.path(), route.where());
            }
            answer = JsonRpc.error(call.id(), failure, route.addon(), options.debug());
        }
        return json(response, callback, 200, answer);
    }

    private long serveStatic(Request request, Response response, Callback callback, String method, String addon, String rawPath) throws IOException {
        boolean head = "HEAD".equals(method);
        if (!head && !"GET".equals(method)) {
            return error(response, callback, 405, null, STATIC_ALLOW);
        }
        StaticFiles.Found found = statics.find(addon, rawPath);
        if (found == null) {
            return error(response, callback, 404, null, null);
        }
        HttpFields.Mutable headers = response.getHeaders();
        headers.put(HttpHeader.ETAG, found.etag());
        headers.put(HttpHeader.LAST_MODIFIED, StaticFiles.httpDate(found.modified()));
        headers.put(staticCache);
        HttpFields requestHeaders = request.getHeaders();
        if (StaticFiles.notModified(found, requestHeaders.get(HttpHeader.IF_NONE_MATCH), requestHeaders.get(HttpHeader.IF_MODIFIED_SINCE))) {
            response.setStatus(304);
            response.write(true, BufferUtil.EMPTY_BUFFER, callback);
            return 0;
        }
        response.setStatus(200);
        headers.put(HttpHeader.CONTENT_TYPE, found.contentType());
        headers.put(HttpHeader.CONTENT_LENGTH, found.size());
        if (head) {
            response.write(true, BufferUtil.EMPTY_BUFFER, callback);
            return 0;
        }
        if (found.size() <= SMALL_FILE) {
            response.write(true, ByteBuffer.wrap(Files.readAllBytes(found.file())), callback);
        } else {
            Content.copy(Content.Source.from(found.file()), response, callback);
        }
        return found.size();
    }

    /** Writes a handler's response: bytes in one write with Content-Length, or a stream. */
    private long send(dev.kiln.api.Response answer, Response response, Callback callback) throws IOException {
        response.setStatus(answer.status());
        HttpFields.Mutable headers = response.getHeaders();
        List<dev.kiln.api.Response.Header> list = answer.headers();
        for (int i = 0, n = list.size(); i < n; i++) {
            dev.kiln.api.Response.Header header = list.get(i);
            if (header.name().equalsIgnoreCase("Content-Type")) {
                headers.put(contentType(header.value()));
            } else {
                headers.add(header.name(), header.value());
            }
        }
        byte[] bytes = answer.bodyBytes();
        if (bytes != null) {
            headers.put(HttpHeader.CONTENT_LENGTH, bytes.length);
            response.write(true, ByteBuffer.wrap(bytes), callback);
            return bytes.length;
        }
        CountingStream out = new CountingStream(Content.Sink.asOutputStream(response));
        try {
            answer.bodyWriter().writeTo(out);
            out.close();
        } catch (IOException | RuntimeException e) {
            if (!response.isCommitted()) {
                throw e;
            }
            LOG.warn("streamed response aborted after {} bytes: {}", out.count, e.toString());
            callback.failed(e);
            return out.count;
        }
        callback.succeeded();
        return out.count;
    }

    private HttpField contentType(String value) {
        HttpField field = contentTypes.get(value);
        if (field == null) {
            field = new PreEncodedHttpField(HttpHeader.CONTENT_TYPE, value);
            if (contentTypes.size() < 64) {
                contentTypes.put(value, field);
            }
        }
        return field;
    }

    /**
     * Turns any failure into a response: typed HTTP exceptions keep their status, the rest is a 500
     * whose details go to the log, and to the page ({@link ErrorPages#debugPage}) only in debug mode.
     */
    private long fail(Request request, Response response, Callback callback, Throwable failure, String rawPath) {
        RouteSpec route = null;
        if (failure instanceof HandlerFailure carried) {
            route = carried.route;
            failure = carried.getCause();
        }
        HttpException later = failure instanceof HttpException http && http.retryAfter() != null ? http
                : unavailable(null, failure);
        if (later != null) {
            if (!(failure instanceof HttpException)) {
                unavailableLines.warn("{} {}: {}", request.getMethod(), rawPath, SqlErrors.firstLine(failure));
            }
            return comeBackLater(later, request, response, callback, null);
        }
        if (failure instanceof HttpException http) {
            if (route == null || http instanceof KilnRequest.Malformed) {
                // the server's own refusal of a malformed request, not an addon's answer
                clientErrors.warn("{} {}: {} {} (from {})", request.getMethod(), rawPath, http.status(), http.getMessage(),
                        Request.getRemoteAddr(request));
                if (http.status() == 400) {
                    // the rest of what the client sent cannot be trusted to frame a next request
                    response.getHeaders().put(HttpHeader.CONNECTION, "close");
                }
            }
            if (route == null && KilnRequest.isJson(request)) {
                // refused before any route was chosen: a JSON body gets a JSON answer
                return json(response, callback, http.status(), JsonRpc.clientError(http.status(), http.getMessage()));
            }
            return error(response, callback, http.status(), http.getMessage(), null);
        }
        if (failure instanceof org.eclipse.jetty.http.HttpException jetty && jetty.getCode() < 500) {
            return error(response, callback, jetty.getCode(), null, null);
        }
        if (route == null) {
            logFailure(failure, "{} {} failed", request.getMethod(), rawPath);
        } else {
            logFailure(failure, "{} {} failed in {}", request.getMethod(), rawPath, route.where());
        }
        if (!options.debug()) {
            return error(response, callback, 500, null, null);
        }
        return page(response, callback, 500, ErrorPages.debugPage(500, failure, request, route), null);
    }

    /**
     * Logs a request's failure with its stack trace. Logback prints a throwable through its
     * {@code toString}, which an addon's exception may break: the failure is then logged by class
     * name, and the response still sent.
     */
    private static void logFailure(Throwable failure, String format, Object... args) {
        Object[] withFailure = java.util.Arrays.copyOf(args, args.length + 1);
        withFailure[args.length] = failure;
        try {
            LOG.error(format, withFailure);
        } catch (RuntimeException unprintable) {
            Object[] described = java.util.Arrays.copyOf(args, args.length + 2);
            described[args.length] = failure.getClass().getName();
            described[args.length + 1] = unprintable.toString();
            LOG.error(format + ": {}, which cannot be printed ({})", described);
        }
    }

    private long error(Response response, Callback callback, int status, String message, String allow) {
        return page(response, callback, status, ErrorPages.page(status, message), allow);
    }

    private long page(Response response, Callback callback, int status, byte[] page, String allow) {
        if (response.isCommitted()) {
            callback.failed(new IOException("response already committed, cannot send " + status));
            return 0;
        }
        boolean close = response.getHeaders().contains(HttpHeader.CONNECTION, "close");
        String retryAfter = response.getHeaders().get(HttpHeader.RETRY_AFTER);
        response.reset();
        if (close) {
            response.getHeaders().put(HttpHeader.CONNECTION, "close");     // a refusal's, kept through the reset
        }
        if (retryAfter != null) {
            response.getHeaders().put(HttpHeader.RETRY_AFTER, retryAfter);
        }
        response.setStatus(status);
        if (allow != null) {
            response.getHeaders().put(HttpHeader.ALLOW, allow);
        }
        response.getHeaders().put(HTML);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, page.length);
        response.write(true, ByteBuffer.wrap(page), callback);
        return page.length;
    }

    private static long json(Response response, Callback callback, int status, byte[] body) {
        response.setStatus(status);
        response.getHeaders().put(JSON);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
        return body.length;
    }

    /** {@code client "METHOD path" status bytes duration}: built only when the logger is on. */
    private void logAccess(Request request, int status, long bytes, long start, String method, String rawPath) {
        if (!AccessLog.enabled()) {
            return;
        }
        long micros = (System.nanoTime() - start) / 1000;
        StringBuilder line = new StringBuilder(96)
                .append(KilnRequest.clientAddress(request, options.proxyMode()))
                .append(" \"").append(method).append(' ').append(rawPath).append("\" ")
                .append(status).append(' ').append(bytes).append(' ')
                .append(micros / 1000).append('.').append(micros % 1000 / 100).append("ms");
        AccessLog.write(null, line);
    }

    private static final class CountingStream extends FilterOutputStream {
        long count;

        CountingStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }
}
