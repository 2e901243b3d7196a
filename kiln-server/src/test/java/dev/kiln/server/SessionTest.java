package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Logging in and out as a client meets it: real kiln processes on the embedded PostgreSQL, sessions
 * kept in the database (so another process, or the same one after a restart, accepts them), the
 * session cookie's attributes, auth=user and auth=public routes, and Odoo's CSRF rule.
 */
@Tag("process")
class SessionTest {

    private static final String DESK = """
            package desk;

            import dev.kiln.api.*;
            import java.sql.*;

            public final class Desk implements Addon {
                @Override public void register(AddonContext context) { context.routes(this); }

                @Route("/desk/me")
                public Response me(Request request) {
                    return Response.text("uid:" + request.uid().getAsLong());
                }

                @Route(value = "/desk/me.json", type = Route.Type.JSON)
                public Object meJson(Request request) {
                    return java.util.Map.of("uid", request.uid().getAsLong());
                }

                @Route(value = "/desk/whoami", auth = Route.Auth.PUBLIC)
                public Response whoami(Request request) {
                    String who = request.uid().isPresent() ? "uid:" + request.uid().getAsLong() : "guest";
                    return Response.text(request.env().database() + " " + who);
                }

                @Route(value = "/desk/post", auth = Route.Auth.PUBLIC, methods = "POST")
                public Response post(Request request) {
                    return Response.text("posted");
                }

                @Route(value = "/desk/post-free", auth = Route.Auth.PUBLIC, methods = "POST", csrf = false)
                public Response postFree(Request request) {
                    return Response.text("posted");
                }

                @Route(value = "/desk/age", auth = Route.Auth.PUBLIC, methods = "POST", csrf = false)
                public Response age(Request request) throws SQLException {
                    try (PreparedStatement s = request.env().connection().prepareStatement(
                            "UPDATE kiln_session SET last_seen = last_seen - make_interval(secs => ?)")) {
                        s.setLong(1, Long.parseLong(request.param("seconds").orElseThrow()));
                        s.executeUpdate();
                    }
                    return Response.text("aged");
                }
            }
            """;

    private static final Pattern SET_COOKIE = Pattern.compile("(?mi)^Set-Cookie: (session_id=.*?)\\r?$");

    @TempDir
    static Path addons;

    @TempDir
    static Path dir;

    static String db;

    @BeforeAll
    static void createDatabase() throws Exception {
        TestAddons.addon(addons, "desk", TestAddons.manifest("desk.Desk", "base"), Map.of("desk.Desk", DESK));
        db = "sessions_" + UUID.randomUUID().toString().substring(0, 8);
        try (KilnProcess kiln = KilnProcess.launch(Files.createTempDirectory(dir, "init"), List.of(),
                "--addons-path=" + addons, "--stop-after-init", "-d", db, "-i", "desk")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(90))).as(kiln.log()).isZero();
        }
    }

    private static KilnProcess serve(String... args) throws IOException {
        String[] all = new String[args.length + 1];
        all[0] = "--addons-path=" + addons;
        System.arraycopy(args, 0, all, 1, args.length);
        return KilnProcess.start(Files.createTempDirectory(dir, "serve"), all);
    }

    private static String call(KilnProcess kiln, String path, String params, String... headers) throws IOException {
        String[] all = new String[headers.length + 1];
        all[0] = "Content-Type: application/json";
        System.arraycopy(headers, 0, all, 1, headers.length);
        return kiln.request("POST", path, "{\"jsonrpc\":\"2.0\",\"method\":\"call\",\"id\":1,\"params\":" + params + "}", all);
    }

    private static String login(KilnProcess kiln, String login, String password, String... headers) throws IOException {
        return call(kiln, "/web/session/authenticate",
                "{\"db\":\"" + db + "\",\"login\":\"" + login + "\",\"password\":\"" + password + "\"}", headers);
    }

    private static String setCookie(String response) {
        Matcher matcher = SET_COOKIE.matcher(response);
        return matcher.find() ? matcher.group(1) : null;
    }

    /** The {@code Cookie:} header sending back the session a response set. */
    private static String cookieOf(String response) {
        String set = setCookie(response);
        assertThat(set).as(response).isNotNull();
        return "Cookie: " + set.substring(0, set.indexOf(';'));
    }

    private static String body(String response) {
        return response.substring(response.indexOf("\r\n\r\n") + 4);
    }

    private static String csrfToken(String loginResponse) {
        Matcher matcher = Pattern.compile("\"csrf_token\":\"([^\"]+)\"").matcher(loginResponse);
        assertThat(matcher.find()).as(loginResponse).isTrue();
        return matcher.group(1);
    }

    @Test
    void theWebClientsSessionRoutesAndCallKwServeTheSessionsUserUntilItIsDestroyed() throws Exception {
        try (KilnProcess kiln = serve("-d", db)) {
            String good = login(kiln, "admin", "admin");
            assertThat(body(good)).contains("\"uid\":2,", "\"user_context\":{\"lang\":\"en_US\",\"tz\":\"UTC\",\"uid\":2}",
                    "\"server_version\":\"19.0\"", "\"server_version_info\":[19,0,0,\"final\",0,\"\"]", "\"name\":\"Administrator\"",
                    "\"username\":\"admin\"", "\"is_internal_user\":true");
            String cookie = cookieOf(good);
            assertThat(body(call(kiln, "/web/session/check", "{}", cookie))).isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":1}");
            assertThat(body(call(kiln, "/web/session/get_session_info", "{}", cookie))).contains("\"uid\":2,", "\"db\":\"" + db + "\"");
            String read = "{\"model\":\"res.users\",\"method\":\"read\",\"args\":[[2],[\"login\"]],\"kwargs\":{}}";
            assertThat(body(call(kiln, "/web/dataset/call_kw", read, cookie)))
                    .isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":[{\"id\":2,\"login\":\"admin\"}]}");
            // the path after call_kw/ is a label only, as in Odoo
            assertThat(body(call(kiln, "/web/dataset/call_kw/res.users/read", read, cookie))).contains("\"result\":[{\"id\":2,");
            assertThat(body(call(kiln, "/web/dataset/call_kw", read))).as("no session")
                    .contains("\"code\":100,\"message\":\"Odoo Session Expired\"", "\"name\":\"odoo.http.SessionExpiredException\"");

            String destroyed = call(kiln, "/web/session/destroy", "{}", cookie);
            assertThat(body(destroyed)).isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":1}");
            assertThat(setCookie(destroyed)).startsWith("session_id=;");
            for (String path : List.of("/web/session/check", "/web/session/get_session_info", "/web/dataset/call_kw")) {
                assertThat(body(call(kiln, path, path.endsWith("call_kw") ? read : "{}", cookie))).as(path)
                        .contains("\"code\":100,\"message\":\"Odoo Session Expired\"");
            }
        }
    }

    @Test
    void aGoodLoginOpensASessionAndABadOneIsDeniedAlikeForUnknownLoginsAndWrongPasswords() throws Exception {
        try (KilnProcess kiln = serve("-d", db)) {
            String good = login(kiln, "admin", "admin");
            assertThat(good).startsWith("HTTP/1.1 200").contains("\"db\":\"" + db + "\"").contains("\"username\":\"admin\"")
                    .containsPattern("\"uid\":\\d+").contains("\"csrf_token\":\"");
            assertThat(setCookie(good)).matches("session_id=" + db + "\\.[A-Za-z0-9_-]{43}; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax");

            String wrongPassword = login(kiln, "admin", "nope");
            String unknownLogin = login(kiln, "nobody", "nope");
            assertThat(body(wrongPassword)).contains("Access Denied").isEqualTo(body(unknownLogin));
            assertThat(setCookie(wrongPassword)).isNull();
            assertThat(setCookie(unknownLogin)).isNull();
            String unknownDb = call(kiln, "/web/session/authenticate", "{\"db\":\"no_such_db\",\"login\":\"admin\",\"password\":\"admin\"}");
            assertThat(body(unknownDb)).isEqualTo(body(unknownLogin));
        }
    }

    @Test
    void aSessionOpenedOnOneProcessWorksOnAnotherAndAfterARestartUntilLogout() throws Exception {
        String cookie;
        try (KilnProcess a = serve("-d", db); KilnProcess b = serve("-d", db)) {
            String logged = login(a, "admin", "admin");
            cookie = cookieOf(logged);
            assertThat(b.request("GET", "/desk/me", null, cookie)).startsWith("HTTP/1.1 200").endsWith("uid:2");
            assertThat(call(b, "/desk/me.json", "{}", cookie)).contains("\"result\":{\"uid\":2}");
        }
        try (KilnProcess c = serve("-d", db)) {
            assertThat(c.request("GET", "/desk/me", null, cookie)).as("after a restart").startsWith("HTTP/1.1 200");
            String out = call(c, "/web/session/logout", "{}", cookie);
            assertThat(out).startsWith("HTTP/1.1 200").contains("\"result\":null");
            assertThat(setCookie(out)).startsWith("session_id=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax");
            assertThat(c.request("GET", "/desk/me", null, cookie)).as("after logout").startsWith("HTTP/1.1 303");
        }
    }

    @Test
    void loggingInAgainDropsThePreviousSession() throws Exception {
        try (KilnProcess kiln = serve("-d", db)) {
            String first = cookieOf(login(kiln, "admin", "admin"));
            String second = cookieOf(login(kiln, "admin", "admin", first));
            assertThat(second).isNotEqualTo(first);
            assertThat(kiln.request("GET", "/desk/me", null, first)).startsWith("HTTP/1.1 303");
            assertThat(kiln.request("GET", "/desk/me", null, second)).startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void aGuestIsSentToTheLoginPageOrToldTheSessionExpiredAndPublicRoutesServeBoth() throws Exception {
        try (KilnProcess kiln = serve("-d", db)) {
            assertThat(kiln.get("/desk/me")).startsWith("HTTP/1.1 303").contains("Location: /web/login?redirect=%2Fdesk%2Fme");
            assertThat(call(kiln, "/desk/me.json", "{}")).as("401, with the error Odoo's clients read")
                    .startsWith("HTTP/1.1 401").contains("\"code\":100").contains("Session expired");
            assertThat(kiln.request("GET", "/desk/me", null, "Cookie: session_id=" + db + ".forged"))
                    .startsWith("HTTP/1.1 303");
            assertThat(kiln.get("/desk/whoami")).endsWith(db + " guest");
            String cookie = cookieOf(login(kiln, "admin", "admin"));
            assertThat(kiln.request("GET", "/desk/whoami", null, cookie)).endsWith(db + " uid:2");
        }
    }

    @Test
    void theSessionsDatabaseIsChosenBeforeAnyOther() throws Exception {
        String other = "other_" + UUID.randomUUID().toString().substring(0, 8);
        try (KilnProcess init = KilnProcess.launch(Files.createTempDirectory(dir, "init"), List.of(),
                "--addons-path=" + addons, "--stop-after-init", "-d", other, "-i", "desk")) {
            assertThat(init.awaitExit(Duration.ofSeconds(90))).as(init.log()).isZero();
        }
        try (KilnProcess kiln = serve("-d", db + "," + other)) {
            assertThat(kiln.get("/desk/whoami")).as("two databases, none chosen").startsWith("HTTP/1.1 404");
            String cookie = cookieOf(login(kiln, "admin", "admin"));
            assertThat(kiln.request("GET", "/desk/whoami", null, cookie)).endsWith(db + " uid:2");
            assertThat(kiln.request("GET", "/desk/whoami", null, cookie, "X-Kiln-Database: " + other)).endsWith(db + " uid:2");
            assertThat(kiln.request("GET", "/desk/whoami?db=" + other, null)).endsWith(other + " guest");
        }
    }

    @Test
    void aSessionIdleForSevenDaysHasExpired() throws Exception {
        try (KilnProcess kiln = serve("-d", db)) {
            String cookie = cookieOf(login(kiln, "admin", "admin"));
            kiln.request("POST", "/desk/age?seconds=" + (6 * 24 * 3600), "", cookie);
            assertThat(kiln.request("GET", "/desk/me", null, cookie)).as("idle six days").startsWith("HTTP/1.1 200")
                    .as("its last use is recorded and the cookie sent again").contains("Set-Cookie: session_id=" + db + ".");
            kiln.request("POST", "/desk/age?seconds=" + (7 * 24 * 3600 + 60), "", cookie);
            assertThat(kiln.request("GET", "/desk/me", null, cookie)).as("idle seven days").startsWith("HTTP/1.1 303");
        }
    }

    @Test
    void anUnsafeHttpRequestWithASessionNeedsItsCsrfToken() throws Exception {
        try (KilnProcess kiln = serve("-d", db)) {
            String logged = login(kiln, "admin", "admin");
            String cookie = cookieOf(logged);
            String token = csrfToken(logged);
            assertThat(kiln.request("POST", "/desk/post", "", cookie)).startsWith("HTTP/1.1 400")
                    .contains("Session expired (invalid CSRF token)");
            assertThat(kiln.request("POST", "/desk/post", "", cookie, "X-CSRF-Token: wrong")).startsWith("HTTP/1.1 400");
            assertThat(kiln.request("POST", "/desk/post", "", cookie, "X-CSRF-Token: " + token)).startsWith("HTTP/1.1 200");
            assertThat(kiln.request("POST", "/desk/post", "csrf_token=" + token, cookie,
                    "Content-Type: application/x-www-form-urlencoded")).startsWith("HTTP/1.1 200");
            assertThat(kiln.request("POST", "/desk/post-free", "", cookie)).as("csrf=false").startsWith("HTTP/1.1 200");
            assertThat(kiln.request("POST", "/desk/post", "")).as("no session, no token needed").startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void theLoginPageLogsInThroughItsFormAndSendsTheUserBackOnlyWithinTheSite() throws Exception {
        try (KilnProcess kiln = serve("-d", db)) {
            assertThat(kiln.get("/web/login?redirect=%2Fdesk%2Fme")).startsWith("HTTP/1.1 200")
                    .contains("<form method=\"post\" action=\"/web/login\">").contains("value=\"/desk/me\"");
            String bad = kiln.postLoginForm("login=admin&password=nope&redirect=%2Fdesk%2Fme");
            assertThat(bad).startsWith("HTTP/1.1 200").contains("Wrong login/password");
            assertThat(setCookie(bad)).isNull();
            String good = kiln.postLoginForm("login=admin&password=admin&redirect=%2Fdesk%2Fme");
            assertThat(good).startsWith("HTTP/1.1 303").contains("Location: /desk/me");
            assertThat(kiln.request("GET", "/desk/me", null, cookieOf(good))).startsWith("HTTP/1.1 200").endsWith("uid:2");
            assertThat(kiln.postLoginForm("login=admin&password=admin&redirect=%2F%2Fevil.example"))
                    .contains("Location: /\r\n");
        }
    }

    @Test
    void aCrossSiteLoginFormPostIsRefusedAndTheLoginPageCannotBeFramed() throws Exception {
        try (KilnProcess kiln = serve("-d", db)) {
            assertThat(kiln.get("/web/login")).contains("\r\nX-Frame-Options: DENY\r\n")
                    .contains("\r\nContent-Security-Policy: frame-ancestors 'self'\r\n");
            String form = "Content-Type: application/x-www-form-urlencoded";
            // what another site's page can post: the fields, without this site's token and cookie
            String crossSite = kiln.request("POST", "/web/login", "login=admin&password=admin", form);
            assertThat(crossSite).startsWith("HTTP/1.1 400").contains("Session expired (invalid CSRF token)");
            assertThat(setCookie(crossSite)).isNull();
            assertThat(kiln.request("POST", "/web/session/authenticate", "{\"params\":{\"db\":\"" + db
                    + "\",\"login\":\"admin\",\"password\":\"admin\"}}", "Content-Type: text/plain"))
                    .as("JSON-RPC logins too are refused from a form").startsWith("HTTP/1.1 415").contains("\"code\":415");
            String guessed = kiln.request("POST", "/web/login", "login=admin&password=admin&csrf_token=x", form,
                    "Cookie: kiln_login_csrf=y");
            assertThat(guessed).startsWith("HTTP/1.1 400");
            assertThat(setCookie(guessed)).isNull();
        }
    }

    @Test
    void fiveWrongPasswordsCoolTheClientDownAndAFloodOfThemLeavesServingAlone() throws Exception {
        try (KilnProcess kiln = serve("-d", db)) {
            String session = cookieOf(login(kiln, "admin", "admin"));
            for (int i = 0; i < 5; i++) {
                assertThat(body(login(kiln, "admin", "wrong"))).contains("Access Denied");
            }
            String cooled = login(kiln, "admin", "admin");
            assertThat(body(cooled)).as("even the right password waits out the cooldown")
                    .contains(dev.kiln.auth.LoginThrottle.MESSAGE);
            assertThat(setCookie(cooled)).isNull();
            assertThat(kiln.postLoginForm("login=admin&password=admin")).contains(dev.kiln.auth.LoginThrottle.MESSAGE);

            java.util.concurrent.ExecutorService flood = java.util.concurrent.Executors.newFixedThreadPool(16);
            try {
                List<java.util.concurrent.Future<String>> attempts = new java.util.ArrayList<>();
                for (int i = 0; i < 320; i++) {
                    attempts.add(flood.submit(() -> body(login(kiln, "admin", "wrong"))));
                }
                for (int i = 0; i < 50; i++) {
                    assertThat(kiln.get("/hello")).startsWith("HTTP/1.1 200");
                    assertThat(call(kiln, "/desk/me.json", "{}", session)).as("a logged-in call beside the flood")
                            .startsWith("HTTP/1.1 200").contains("\"uid\":");
                }
                for (java.util.concurrent.Future<String> attempt : attempts) {
                    assertThat(attempt.get()).contains(dev.kiln.auth.LoginThrottle.MESSAGE);
                }
            } finally {
                flood.shutdownNow();
            }
        }
    }

    @Test
    void fiveExternalApiCallsWithAWrongPasswordCoolTheCallerDownToo() throws Exception {
        try (KilnProcess kiln = serve("-d", db)) {
            String uid = body(login(kiln, "admin", "admin")).replaceAll("(?s).*\"uid\":(\\d+).*", "$1");
            for (int i = 0; i < 5; i++) {
                assertThat(executeKw(kiln, uid, "wrong")).contains("Access Denied");
            }
            assertThat(executeKw(kiln, uid, "admin")).as("even the right password waits out the cooldown")
                    .contains(dev.kiln.auth.LoginThrottle.MESSAGE);
        }
    }

    private static String executeKw(KilnProcess kiln, String uid, String password) throws IOException {
        return kiln.request("POST", "/jsonrpc", "{\"jsonrpc\":\"2.0\",\"method\":\"call\",\"id\":1,\"params\":{\"service\":\"object\","
                + "\"method\":\"execute_kw\",\"args\":[\"" + db + "\"," + uid + ",\"" + password + "\",\"res.users\",\"read\",[["
                + uid + "]],{\"fields\":[\"login\"]}]}}", "Content-Type: application/json");
    }

    @Test
    void theCookieIsSecureOnlyWhenAProxyTrustedByProxyModeSaysHttps() throws Exception {
        try (KilnProcess plain = serve("-d", db); KilnProcess proxied = serve("-d", db, "--proxy-mode")) {
            assertThat(setCookie(login(plain, "admin", "admin", "X-Forwarded-Proto: https"))).doesNotContain("Secure");
            assertThat(setCookie(login(proxied, "admin", "admin"))).doesNotContain("Secure");
            assertThat(setCookie(login(proxied, "admin", "admin", "X-Forwarded-Proto: http"))).doesNotContain("Secure");
            assertThat(setCookie(login(proxied, "admin", "admin", "X-Forwarded-Proto: https"))).endsWith("; Secure");
        }
    }
}
