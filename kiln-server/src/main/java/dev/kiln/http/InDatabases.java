package dev.kiln.http;

import dev.kiln.addons.RouteSpec;
import dev.kiln.api.Response;
import dev.kiln.api.Route;
import dev.kiln.auth.Sessions;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.Isolation;
import dev.kiln.db.Transactions;
import dev.kiln.failure.KilnException;
import dev.kiln.http.Failures.HandlerFailure;
import dev.kiln.logging.AccessRefusals;
import dev.kiln.registry.Registry;
import dev.kiln.registry.TransactionEnv;
import dev.kiln.registry.UnitOfWork;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The routes of the addons installed in each database. The database is chosen first: the one the
 * session cookie ({@link SessionCookie}) names, else the one asked for, else the only visible one;
 * when none applies the route is a 404, as Odoo answers. The route then runs in one transaction on
 * that database: committed when the handler returns, rolled back when it throws, run again on a
 * serialization failure or deadlock; its outcome is sent after the commit. Its session, looked up in
 * that transaction, gives the user of {@code auth=user} routes (a guest is sent to the login page,
 * or answered 401 with Odoo's JSON-RPC error 100 "Session expired") and the token that unsafe
 * {@code type=http} requests with a session must carry (Odoo's CSRF rule). A {@code readonly} route
 * may run on the replica ({@link ReadOnlyWork}). Knows nothing of Jetty.
 */
final class InDatabases implements DatabaseRoutes {

    private static final Logger LOG = LoggerFactory.getLogger(InDatabases.class);

    private final Databases databases;
    private final Failures failures;
    private final AddonCalls calls;
    private final AccessRefusals refusals;
    /** The router of each database's current registry, rebuilt when the registry is. */
    private final ConcurrentHashMap<String, RegistryRoutes> registryRoutes = new ConcurrentHashMap<>();

    InDatabases(Databases databases, Failures failures, AddonCalls calls, AccessRefusals refusals) {
        this.databases = databases;
        this.failures = failures;
        this.calls = calls;
        this.refusals = refusals;
    }

    /** The router of one registry and its addons' class loaders. */
    private record RegistryRoutes(Registry registry, Router router, Map<String, ClassLoader> loaders) { }

    @Override
    public Outcome serve(KilnRequest request, Router.Result found) {
        SessionCookie cookie = request.sessionCookie();
        String db = databases.selector().select(request.host(), cookie == null ? null : cookie.db(),
                request.wantedDatabase()).orElse(null);
        if (db == null) {
            return DatabaseRoutes.noDatabase(found);
        }
        return serveIn(db, cookie == null ? null : cookie.tokenFor(db), request);
    }

    private Outcome serveIn(String db, String token, KilnRequest request) {
        Outcome outcome;
        try {
            databases.registries().prepare(db);
            ConnectionPools primary = databases.pools();
            Resolved known = primary.sendsReadsElsewhere() ? resolveKnown(db, request) : null;
            boolean readsOnly = known != null && known.found().match() != null && known.found().match().route().readonly();
            outcome = ReadOnlyWork.run(primary, readsOnly, () -> db + ": " + request.method() + " " + request.path(),
                    (pools, readOnly, replicaOf) -> UnitOfWork.inRequest(pools, db,
                            scope -> runIn(db, token, scope, request, readOnly, replicaOf, known),
                            request::claimResponse));    // before the commit: an aborted request's work rolls back
            Sessions.Session session = request.session();
            if (!readsOnly && session != null) {
                primary.wrote(db, session.uid());        // with a replica: the user's next reads see this
            }
        } catch (HandlerFailure failure) {
            return failures.inDatabase(db, request, failure);
        } catch (KilnException failed) {
            return failures.databaseFailed(db, request, failed);
        }
        return keepSessionAlive(db, token, request, outcome);
    }

    /** The request's route in the routes of one registry. */
    private record Resolved(RegistryRoutes routes, Router.Result found) { }

    /**
     * The route the request will reach as far as this process knows the database's addons, before
     * any connection: whether it is {@code readonly} tells where it may run. A registry not loaded
     * yet gives none (the request runs on the primary, which knows best); one that changed since is
     * resolved again in the transaction.
     */
    private Resolved resolveKnown(String db, KilnRequest request) {
        return databases.registries().known(db).map(registry -> {
            RegistryRoutes routes = routesOf(registry);
            return new Resolved(routes, routes.router().resolve(request.path(), request.method()));
        }).orElse(null);
    }

    private Outcome runIn(String db, String token, UnitOfWork.Scope scope, KilnRequest request, boolean readOnly,
                          ConnectionPools replicaOf, Resolved known) throws SQLException {
        Connection connection = scope.connection();
        if (readOnly) {
            ReadOnlyWork.readOnly(connection);
        }
        RegistryRoutes routes = routesOf(databases.registries().get(db, connection));
        Router.Result found = known != null && known.routes() == routes ? known.found()
                : routes.router().resolve(request.path(), request.method());
        if (found.match() == null) {
            return found.allow() == null ? Outcome.page(404) : Outcome.notAllowed(found.allow());
        }
        RouteSpec route = found.match().route();
        request.route(route, found.match().params());
        Sessions.Session session = token == null ? null : Sessions.find(connection, db, token).orElse(null);
        request.session(session);
        if (session != null) {
            ReadOnlyWork.stepAsideForOwnWrites(replicaOf, db, session.uid());
        } else if (token != null && replicaOf != null) {
            ReadOnlyWork.stepAside();       // a session opened a moment ago may not have reached the replica
        }
        if (route.auth() == Route.Auth.USER && session == null) {
            return sessionExpired(db, token, route, request);
        }
        if (session != null && route.type() == Route.Type.HTTP && route.csrf() && unsafe(request.method())
                && !Sessions.csrfMatches(session, csrfTokenOf(request))) {
            refuseCsrf(db, token, request);
            return Outcome.page(400, "Session expired (invalid CSRF token)");
        }
        request.withEnv(scope.enter(new TransactionEnv(databases.pools(), databases.bus(), databases.registries(), db,
                connection, request.remoteAddress())));
        return calls.call(route, request, routes.loaders().get(route.addon()), db);
    }

    /** An {@code auth=user} route without a live session: the login page, or Odoo's JSON-RPC error 100. */
    private Outcome sessionExpired(String db, String token, RouteSpec route, KilnRequest request) {
        refusals.refused("{} {}: auth=user route of addon {} in database '{}' refused: {} (from {})", request.method(),
                request.path(), route.addon(), db, token == null ? "no session for this database"
                        : "session " + AccessRefusals.session(token) + " expired or unknown", request.remoteAddress());
        if (route.type() == Route.Type.JSON) {
            return Outcome.json(401, JsonRpc.sessionExpired(null));
        }
        return Outcome.reply(Response.redirect("/web/login?redirect=" + URLEncoder.encode(request.path(), StandardCharsets.UTF_8)));
    }

    private void refuseCsrf(String db, String token, KilnRequest request) {
        if (refusals.loud()) {
            refusals.refused("{} {}: CSRF token {} for session {} in database '{}' (from {})", request.method(), request.path(),
                    csrfTokenOf(request) == null ? "missing" : "invalid", AccessRefusals.session(token), db,
                    request.remoteAddress());
        } else {
            LOG.warn("{} {}: CSRF token missing or invalid for a request with a session", request.method(), request.path());
        }
    }

    /**
     * Writes the session's last-seen time when it is due (at most once a minute, after the request's
     * commit, in its own short transaction) and sends the cookie again so the browser keeps it as
     * long as the session lives. A failure here is logged: it must not fail the request.
     */
    private Outcome keepSessionAlive(String db, String token, KilnRequest request, Outcome outcome) {
        Sessions.Session session = request.session();
        if (session == null || !session.touchDue()) {
            return outcome;
        }
        try {
            Transactions.inTransaction(databases.pools(), db, Isolation.READ_COMMITTED, connection -> {
                Sessions.touch(connection, token);
                return null;
            });
            return outcome.withHeader("Set-Cookie", SessionCookie.set(db, token, request.secure()));
        } catch (RuntimeException e) {
            LOG.warn("database '{}': could not record a session's activity: {}", db, e.getMessage());
            return outcome;
        }
    }

    private RegistryRoutes routesOf(Registry registry) {
        RegistryRoutes current = registryRoutes.get(registry.database());
        if (current != null && current.registry() == registry) {
            return current;
        }
        RegistryRoutes built = new RegistryRoutes(registry, new Router(registry.addons().routes()),
                Dispatcher.loadersOf(registry.addons()));
        registryRoutes.put(registry.database(), built);
        return built;
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
}
