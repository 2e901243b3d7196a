package dev.kiln.http;

import dev.kiln.api.RpcFault;
import dev.kiln.auth.ApiKeys;
import dev.kiln.auth.Sessions;
import dev.kiln.db.Isolation;
import dev.kiln.db.Transactions;
import dev.kiln.failure.KilnException;
import dev.kiln.http.BuiltInRoute.Claim;
import dev.kiln.logging.AccessRefusals;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;

/**
 * The JSON-RPC routes of Odoo's web client that clients written for Odoo call with a session
 * cookie: {@code /web/dataset/call_kw} (and {@code /web/dataset/call_kw/<model>.<method>}, the
 * path only a label, as Odoo's), {@code /web/session/get_session_info}, {@code /web/session/check}
 * and {@code /web/session/destroy}. The session is the one the cookie names, in the cookie's
 * database; none, or one expired, is Odoo's error 100 "Odoo Session Expired", on which clients log
 * in again. {@code call_kw} runs the model's method as {@code execute_kw} does
 * ({@link RpcRoutes#call}), as the session's user. Built-in routes: they choose their database by
 * the cookie, as the session routes do. Knows nothing of Jetty.
 */
final class WebRoutes {

    static final String CALL_KW = "/web/dataset/call_kw";
    static final String SESSION_INFO = "/web/session/get_session_info";
    static final String CHECK = "/web/session/check";
    static final String DESTROY = "/web/session/destroy";
    static final String APIKEYS = "/web/session/apikeys/";

    private final Databases databases;
    private final RpcRoutes rpc;
    private final AccessRefusals refusals;
    private final boolean debug;

    WebRoutes(Databases databases, RpcRoutes rpc, AccessRefusals refusals, HttpOptions options) {
        this.databases = databases;
        this.rpc = rpc;
        this.refusals = refusals;
        this.debug = options.debug();
    }

    List<BuiltInRoute> routes() {
        List<String> post = List.of("POST");
        return List.of(
                new BuiltInRoute(CALL_KW, Claim.PATH, post, Failures.Format.JSON_RPC, r -> serve(r, this::callKw)),
                new BuiltInRoute(CALL_KW + "/", Claim.PREFIX, post, Failures.Format.JSON_RPC, r -> serve(r, this::callKw)),
                new BuiltInRoute(SESSION_INFO, Claim.PATH, post, Failures.Format.JSON_RPC, r -> serve(r, this::sessionInfo)),
                new BuiltInRoute(CHECK, Claim.PATH, post, Failures.Format.JSON_RPC, r -> serve(r, this::check)),
                new BuiltInRoute(DESTROY, Claim.PATH, post, Failures.Format.JSON_RPC, r -> serve(r, this::destroy)),
                new BuiltInRoute(APIKEYS + "create", Claim.PATH, post, Failures.Format.JSON_RPC, r -> serve(r, this::createKey)),
                new BuiltInRoute(APIKEYS + "list", Claim.PATH, post, Failures.Format.JSON_RPC, r -> serve(r, this::listKeys)),
                new BuiltInRoute(APIKEYS + "revoke", Claim.PATH, post, Failures.Format.JSON_RPC, r -> serve(r, this::revokeKey)));
    }

    /** A call with the session its cookie names: {@code db} and {@code token} are the cookie's. */
    private record WithSession(KilnRequest request, JsonRpc.Call call, String db, String token) { }

    /** What a session route does; {@link #NOTHING} for Odoo's None (an answer without {@code result}). */
    @FunctionalInterface
    private interface SessionCall {
        Object answer(WithSession call);
    }

    private static final Object NOTHING = new Object();

    /** Odoo's {@code SessionExpiredException}: no live session for the call. */
    private static final class SessionExpired extends RuntimeException {
        SessionExpired() {
            super(null, null, false, false);
        }
    }

    private Outcome serve(KilnRequest request, SessionCall route) {
        if (!request.isJson()) {
            return Outcome.notJson();        // a cross-site form cannot send JSON: no CSRF token needed
        }
        JsonRpc.Call call;
        try {
            call = JsonRpc.parse(request.body());
        } catch (JsonRpc.Invalid invalid) {
            return Outcome.json(JsonRpc.error(invalid));
        }
        JsonNode id = call.id();
        SessionCookie cookie = request.sessionCookie();
        try {
            if (cookie == null || !databases.selector().visible(request.host()).contains(cookie.db())) {
                refusals.refused("{}: no session cookie for a database served here (from {})", request.path(),
                        request.remoteAddress());
                throw new SessionExpired();
            }
            Object answer = route.answer(new WithSession(request, call, cookie.db(), cookie.token()));
            Outcome outcome = Outcome.json(answer == NOTHING ? JsonRpc.noResult(id) : JsonRpc.result(id, answer))
                    .withHeader("Cache-Control", "no-store");
            return request.path().equals(DESTROY) ? outcome.withHeader("Set-Cookie", SessionCookie.clear(request.secure())) : outcome;
        } catch (SessionExpired expired) {
            return Outcome.json(JsonRpc.sessionExpired(id));
        } catch (KilnException | RpcFault | CallError.Failed | IllegalArgumentException failure) {
            return Outcome.json(JsonRpc.error(id, CallError.of(failure), debug));
        }
    }

    /** The live session in this transaction, its last-seen time written when due; none: {@link SessionExpired}. */
    private Sessions.Session session(Connection connection, WithSession call) throws SQLException {
        Sessions.Session session = Sessions.find(connection, call.db(), call.token()).orElse(null);
        if (session == null) {
            refusals.refused("{}: session {} in database '{}' expired or unknown (from {})", call.request().path(),
                    AccessRefusals.session(call.token()), call.db(), call.request().remoteAddress());
            throw new SessionExpired();
        }
        if (session.touchDue()) {
            Sessions.touch(connection, call.token());
        }
        return session;
    }

    /** {@code call_kw(model, method, args, kwargs)}: Odoo requires both lists; a missing {@code kwargs} is taken as empty. */
    private Object callKw(WithSession call) {
        Map<String, Object> params = call.call().params();
        if (!(params.get("model") instanceof String model) || !(params.get("method") instanceof String method)) {
            throw RpcFault.badArguments("call_kw needs a model and a method");
        }
        if (!(params.get("args") instanceof List<?> args)) {
            throw RpcFault.badArguments("call_kw() missing required argument: 'args' (a list)");
        }
        Object kwargs = params.getOrDefault("kwargs", Map.of());
        if (!(kwargs instanceof Map<?, ?> named)) {
            throw RpcFault.badArguments("kwargs must be an object");
        }
        Map<String, Object> keywords = new LinkedHashMap<>();
        named.forEach((k, v) -> keywords.put(String.valueOf(k), v));
        return rpc.call(call.db(), model, method, new ArrayList<>(args), keywords, call.request().remoteAddress(),
                connection -> session(connection, call).uid());
    }

    private Object sessionInfo(WithSession call) {
        return Transactions.inTransaction(databases.pools(), call.db(), connection -> {
            Sessions.Session session = session(connection, call);
            return SessionInfo.of(connection, call.db(), session.uid(), session.csrfToken());
        });
    }

    private Object check(WithSession call) {
        Transactions.inTransaction(databases.pools(), call.db(), Isolation.READ_COMMITTED, connection -> session(connection, call));
        return NOTHING;
    }

    /**
     * {@code apikeys/create} ({@code name}, optional {@code scope} and {@code expiration_date}, an
     * ISO-8601 instant or date): a new key of the session's user, in the answer once and never again.
     */
    private Object createKey(WithSession call) {
        Map<String, Object> params = call.call().params();
        if (!(params.get("name") instanceof String name) || name.isBlank()) {
            throw RpcFault.badArguments("an API key needs a name (what it is for)");
        }
        Object scope = params.get("scope");
        if (scope != null && !(scope instanceof String)) {
            throw RpcFault.badArguments("scope must be a string");
        }
        java.time.Instant expires = expiry(params.get("expiration_date"));
        ApiKeys.Created created = Transactions.inTransaction(databases.pools(), call.db(), connection -> {
            Sessions.Session session = session(connection, call);
            try {
                return ApiKeys.create(connection, session.uid(), name, (String) scope, expires);
            } catch (IllegalArgumentException invalid) {
                throw RpcFault.validationError(invalid.getMessage());
            }
        });
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("id", created.id());
        answer.put("key", created.key());
        return answer;
    }

    private static java.time.Instant expiry(Object given) {
        if (given == null || given.equals(false)) {
            return null;
        }
        if (!(given instanceof String text)) {
            throw RpcFault.badArguments("expiration_date must be a date or an instant (ISO 8601)");
        }
        try {
            return text.length() == 10 ? java.time.LocalDate.parse(text).atStartOfDay(java.time.ZoneOffset.UTC).toInstant()
                    : java.time.OffsetDateTime.parse(text).toInstant();
        } catch (java.time.format.DateTimeParseException e) {
            throw RpcFault.badArguments("expiration_date must be a date or an instant (ISO 8601), not " + text);
        }
    }

    /** {@code apikeys/list}: the session user's keys, without the keys themselves. */
    private Object listKeys(WithSession call) {
        return Transactions.inTransaction(databases.pools(), call.db(), connection -> {
            List<Map<String, Object>> keys = new ArrayList<>();
            for (ApiKeys.Listed key : ApiKeys.list(connection, session(connection, call).uid())) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("id", key.id());
                row.put("name", key.name());
                row.put("scope", key.scope());
                row.put("expiration_date", key.expires() == null ? null : key.expires().toString());
                row.put("create_date", key.created().toString());
                keys.add(row);
            }
            return keys;
        });
    }

    /** {@code apikeys/revoke} ({@code id}): the key stops working at once, in every process. */
    private Object revokeKey(WithSession call) {
        if (!(call.call().params().get("id") instanceof Number id)) {
            throw RpcFault.badArguments("revoke needs the key's id");
        }
        boolean revoked = Transactions.inTransaction(databases.pools(), call.db(), connection ->
                ApiKeys.revoke(connection, session(connection, call).uid(), id.longValue()));
        if (!revoked) {
            throw RpcFault.missingError("You have no API key " + id);
        }
        databases.registries().credentialsChanged(call.db());
        return true;
    }

    /** Ends the session (Odoo's {@code session.logout()}); the cookie is cleared too. */
    private Object destroy(WithSession call) {
        Transactions.inTransaction(databases.pools(), call.db(), Isolation.READ_COMMITTED, connection -> {
            session(connection, call);
            Sessions.close(connection, call.token());
            return null;
        });
        return NOTHING;
    }
}
