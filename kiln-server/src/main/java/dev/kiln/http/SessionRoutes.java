package dev.kiln.http;

import dev.kiln.api.Response;
import dev.kiln.api.RpcFault;
import dev.kiln.auth.LoginThrottle;
import dev.kiln.auth.Sessions;
import dev.kiln.auth.Users;
import dev.kiln.db.Isolation;
import dev.kiln.db.Transactions;
import dev.kiln.failure.KilnException;
import dev.kiln.http.BuiltInRoute.Claim;
import dev.kiln.logging.AccessRefusals;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;

/**
 * Kiln's built-in session routes, JSON-RPC as Odoo's: {@code POST /web/session/authenticate}
 * (params {@code db}, {@code login}, {@code password}) opens a session and answers Odoo's session
 * info ({@link SessionInfo}); {@code POST /web/session/logout} ends it. They are part of the server, not
 * of an addon, because they choose the database themselves and set the session cookie; they are
 * {@link BuiltInRoute}s of the router. Knows nothing of Jetty.
 *
 * <p>A refused login answers "Access Denied" whatever the reason (unknown database, unknown login,
 * wrong password, inactive user), each after one password check, so neither the answer nor its
 * time tells which; the reason goes to the log ({@link AccessRefusals}, {@code --dev=access}).
 * Logging in drops the session the cookie named before (the id rotates).
 */
final class SessionRoutes {

    static final String AUTHENTICATE = "/web/session/authenticate";
    static final String LOGOUT = "/web/session/logout";
    static final String LOGIN = "/web/login";

    private static final Logger LOG = LoggerFactory.getLogger(SessionRoutes.class);

    /** The JSON-RPC body to send and the {@code Set-Cookie} value to send with it (null: none). */
    record Answer(byte[] json, String setCookie) { }

    private final Databases databases;
    private final AccessRefusals refusals;

    SessionRoutes(Databases databases, AccessRefusals refusals) {
        this.databases = databases;
        this.refusals = refusals;
    }

    /**
     * Login and logout (JSON-RPC POSTs only, Kiln's whatever an addon registers), and the login
     * page, which an addon's own {@code /web/login} replaces.
     */
    List<BuiltInRoute> routes() {
        return List.of(
                new BuiltInRoute(AUTHENTICATE, Claim.PATH, List.of("POST"), Failures.Format.JSON_RPC, this::serveJson),
                new BuiltInRoute(LOGOUT, Claim.PATH, List.of("POST"), Failures.Format.JSON_RPC, this::serveJson),
                new BuiltInRoute(LOGIN, Claim.FALLBACK, List.of("GET", "POST"), Failures.Format.PAGE, this::serveLoginPage));
    }

    private Outcome serveJson(KilnRequest request) {
        if (!request.isJson()) {
            // a cross-site form cannot send application/json: this keeps logout and login free of CSRF
            return Outcome.notJson();
        }
        byte[] body = request.body();      // 400/413: answered in JSON by Failures
        SessionCookie cookie = request.sessionCookie();
        Answer answer = serve(request.path(), body, request.host(), chosen(request, cookie), cookie, request.secure(),
                request.remoteAddress());
        Outcome outcome = Outcome.json(answer.json()).withHeader("Cache-Control", "no-store");
        return answer.setCookie() == null ? outcome : outcome.withHeader("Set-Cookie", answer.setCookie());
    }

    private Outcome serveLoginPage(KilnRequest request) {
        SessionCookie cookie = request.sessionCookie();
        return Outcome.reply(loginPage(request, request.host(), chosen(request, cookie), cookie, request.secure()));
    }

    /** The database the request would use without a {@code db} parameter, or null. */
    private String chosen(KilnRequest request, SessionCookie cookie) {
        return databases.selector().select(request.host(), cookie == null ? null : cookie.db(), request.wantedDatabase())
                .orElse(null);
    }

    /**
     * @param chosen the database the request would use without a {@code db} parameter (may be null)
     * @param cookie the request's session cookie (may be null)
     * @param client the client's address, for the log of refusals
     */
    Answer serve(String path, byte[] body, String host, String chosen, SessionCookie cookie, boolean secure, String client) {
        JsonRpc.Call call;
        try {
            call = JsonRpc.parse(body);
        } catch (JsonRpc.Invalid invalid) {
            return new Answer(JsonRpc.error(invalid), null);
        }
        try {
            return AUTHENTICATE.equals(path)
                    ? authenticate(call, host, chosen, cookie, secure, client)
                    : logout(call, host, cookie, secure);
        } catch (KilnException unavailable) {
            LOG.error("{}: {}", path, unavailable.getMessage());
            return new Answer(JsonRpc.error(call.id(), JsonRpc.SERVER_ERROR, JsonRpc.SERVER_ERROR_MESSAGE, "KilnException",
                    "the database is not available", null), null);
        }
    }

    private Answer authenticate(JsonRpc.Call call, String host, String chosen, SessionCookie cookie, boolean secure, String client) {
        String db = text(call.params().get("db"));
        if (db == null) {
            db = chosen;
        }
        String login = text(call.params().get("login"));
        String password = text(call.params().get("password"));
        String unfit = unfit(db, login, password, host);
        if (unfit != null) {
            Users.refuse(password);
            refused(AUTHENTICATE, db, login, unfit, client);
            return denied(call.id());
        }
        String database = db;
        LoggedIn loggedIn = logIn(AUTHENTICATE, database, login, password, host, cookie, client);
        Sessions.Opened opened = loggedIn.opened();
        if (opened == null) {
            return denied(call.id(), loggedIn.cooldown() ? LoginThrottle.MESSAGE : "Access Denied");
        }
        return new Answer(JsonRpc.result(call.id(), loggedIn.info()), SessionCookie.set(database, opened.token(), secure));
    }

    /**
     * The login page ({@code GET /web/login}) and its form ({@code POST /web/login}: {@code login},
     * {@code password}, optional {@code db} and {@code redirect}). A good login is sent on to
     * {@code redirect} (a path of this site only, else {@code /}); a bad one sees the form again
     * with Odoo's "Wrong login/password".
     */
    Response loginPage(KilnRequest request, String host, String chosen, SessionCookie cookie, boolean secure) {
        String redirect = localPath(request.param("redirect").orElse("/"));
        String db = request.param("db").filter(d -> !d.isEmpty()).orElse(chosen);
        if (!"POST".equals(request.method())) {
            return form(db, redirect, null, secure);
        }
        String login = request.param("login").filter(l -> !l.isEmpty()).orElse(null);
        if (!csrfMatches(request)) {
            // a cross-site form would log the victim into the attacker's account (login CSRF)
            refused(LOGIN, db, login, "CSRF token missing or not the form's", request.remoteAddress());
            return form(db, redirect, "Session expired (invalid CSRF token)", secure).withStatus(400);
        }
        String password = request.param("password").filter(p -> !p.isEmpty()).orElse(null);
        LoggedIn loggedIn = new LoggedIn(null, false, null);
        String unfit = unfit(db, login, password, host);
        if (unfit != null) {
            Users.refuse(password);
            refused(LOGIN, db, login, unfit, request.remoteAddress());
        } else {
            loggedIn = logIn(LOGIN, db, login, password, host, cookie, request.remoteAddress());
        }
        if (loggedIn.opened() == null) {
            return form(db, redirect, loggedIn.cooldown() ? LoginThrottle.MESSAGE : "Wrong login/password", secure);
        }
        return Response.redirect(redirect).header("Set-Cookie", SessionCookie.set(db, loggedIn.opened().token(), secure));
    }

    /** The login form with a new CSRF token, in the form and in its cookie. */
    private static Response form(String db, String redirect, String error, boolean secure) {
        String token = Sessions.randomToken();
        return LoginPage.form(db, redirect, error, token).header("Set-Cookie", SessionCookie.loginCsrf(token, secure));
    }

    /** Whether the form's {@code csrf_token} is the one its cookie holds: only a page of this site could send both. */
    private static boolean csrfMatches(KilnRequest request) {
        String sent = request.param("csrf_token").orElse(null);
        String expected = request.cookie(SessionCookie.LOGIN_CSRF).orElse(null);
        return sent != null && expected != null && MessageDigest.isEqual(
                sent.getBytes(StandardCharsets.UTF_8), expected.getBytes(StandardCharsets.UTF_8));
    }

    /** {@code path} when it stays on this site ({@code /x}, not {@code //host} or {@code /\host}), else {@code /}. */
    static String localPath(String path) {
        boolean local = path.startsWith("/") && !path.startsWith("//") && !path.startsWith("/\\")
                && path.chars().noneMatch(c -> c < 0x20 || c == 0x7f);
        return local ? path : "/";
    }

    /** Why a login cannot even be checked (a field missing, a database not served here); null when it can. */
    private String unfit(String db, String login, String password, String host) {
        if (db == null) {
            return "no database named, and none chosen for this host";
        }
        if (login == null || password == null) {
            return login == null ? "no login given" : "no password given";
        }
        if (!databases.selector().visible(host).contains(db)) {
            return "database not served for this host (-d, dbfilter or no such database)";
        }
        return null;
    }

    private void refused(String path, String db, String login, String why, String client) {
        refusals.refused("{}: login '{}' to database '{}' refused: {} (from {})", path, login, db, why, client);
    }

    /**
     * Checks the password of {@code login} in {@code database} and opens a session ({@code opened}
     * null when refused, {@code cooldown} true when for the login cooldown). The session the cookie
     * named before ends (the id rotates), wherever it lived.
     */
    private LoggedIn logIn(String path, String database, String login, String password, String host, SessionCookie cookie,
                           String client) {
        String[] refusal = new String[1];
        boolean[] cooldown = new boolean[1];
        List<Map<String, Object>> info = new ArrayList<>(1);
        Sessions.Opened opened = Transactions.inTransaction(databases.pools(), database, connection -> {
            info.clear();                                  // a try run again starts afresh
            Users.Login checked = Users.authenticate(connection, database, login, password, client, false);
            if (!checked.ok()) {
                refusal[0] = checked.refusal();
                cooldown[0] = checked.cooldown();
                return null;
            }
            // the previous session (if the cookie named one here) ends, and so do expired ones
            Sessions.close(connection, cookie == null ? null : cookie.tokenFor(database));
            Sessions.Opened session = Sessions.open(connection, database, checked.uid(), login);
            if (path.equals(AUTHENTICATE)) {           // the login page answers a redirect, not the session info
                info.add(SessionInfo.of(connection, database, checked.uid(), session.session().csrfToken()));
            }
            return session;
        });
        if (opened == null) {
            refused(path, database, login, refusal[0], client);
        }
        if (opened != null && cookie != null && !cookie.db().equals(database)) {
            closeQuietly(host, cookie);
        }
        return new LoggedIn(opened, cooldown[0], opened == null || info.isEmpty() ? null : info.getFirst());
    }

    /** A login's result; {@code info} is the user's {@link SessionInfo} when it succeeded. */
    private record LoggedIn(Sessions.Opened opened, boolean cooldown, Map<String, Object> info) { }

    private Answer logout(JsonRpc.Call call, String host, SessionCookie cookie, boolean secure) {
        if (cookie != null && databases.selector().visible(host).contains(cookie.db())) {
            Transactions.inTransaction(databases.pools(), cookie.db(), Isolation.READ_COMMITTED, connection -> {
                Sessions.close(connection, cookie.token());
                return null;
            });
        }
        return new Answer(JsonRpc.result(call.id(), null), SessionCookie.clear(secure));
    }

    /** Ends the session a cookie names in another database; a failure there must not fail the login. */
    private void closeQuietly(String host, SessionCookie cookie) {
        if (!databases.selector().visible(host).contains(cookie.db())) {
            return;
        }
        try {
            Transactions.inTransaction(databases.pools(), cookie.db(), Isolation.READ_COMMITTED, connection -> {
                Sessions.close(connection, cookie.token());
                return null;
            });
        } catch (RuntimeException e) {
            LOG.warn("could not end the previous session in database '{}': {}", cookie.db(), e.getMessage());
        }
    }

    private static Answer denied(JsonNode id) {
        return denied(id, "Access Denied");
    }

    private static Answer denied(JsonNode id, String message) {
        return new Answer(JsonRpc.error(id, JsonRpc.SERVER_ERROR, JsonRpc.SERVER_ERROR_MESSAGE, RpcFault.Kind.ACCESS_DENIED.odooName(),
                message, null), null);
    }

    private static String text(Object value) {
        return value instanceof String s && !s.isEmpty() ? s : null;
    }
}
