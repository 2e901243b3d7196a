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
 * {@code --dev=access} and {@code --dev=debug} as a developer meets them, on a real kiln and a real
 * database: refused logins and accesses each logged on {@code dev.kiln.access} with the reason the
 * client is not told, never with the password or the whole session id; a database route's failure
 * shown with its addon and the request, credentials masked. Without the options, none of it.
 */
@Tag("process")
class DevModeTest {

    private static final String PASSWORD = "not-the-Password-42";
    /** Shaped as Kiln's tokens are (43 URL-safe characters), so it is looked up and found dead. */
    private static final String TOKEN = "AbCdEf" + "SessionTail" + "abcdefghijklmnopqrstuvwxyz";

    /** A route that changes state, so Odoo's CSRF rule applies to it, and two that fail. */
    private static final String DESK = """
            package desk;

            import dev.kiln.api.*;

            public final class Desk implements Addon {
                @Override public void register(AddonContext context) { context.routes(this); }

                @Route(value = "/desk/post", auth = Route.Auth.PUBLIC, methods = "POST")
                public Response post(Request request) {
                    return Response.text("posted");
                }

                @Route(value = "/desk/fail", auth = Route.Auth.PUBLIC)
                public Response fail(Request request) {
                    throw new IllegalStateException("desk failure");
                }

                @Route(value = "/desk/fail.json", type = Route.Type.JSON, auth = Route.Auth.PUBLIC)
                public Object failJson(Request request) {
                    throw new IllegalStateException("desk json failure");
                }
            }
            """;

    @TempDir
    static Path dir;

    @TempDir
    static Path addons;

    static String db;

    @BeforeAll
    static void createDatabase() throws Exception {
        TestAddons.addon(addons, "desk", TestAddons.manifest("desk.Desk", "base"), Map.of("desk.Desk", DESK));
        db = "devaccess_" + UUID.randomUUID().toString().substring(0, 8);
        try (KilnProcess kiln = KilnProcess.launch(Files.createTempDirectory(dir, "init"), List.of(),
                "--addons-path=" + addons, "--stop-after-init", "-d", db, "-i", "desk")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(90))).as(kiln.log()).isZero();
        }
    }

    /**
     * The refusals the test makes: a wrong password on the login form and over JSON-RPC, an auth=user
     * route without a session and with a dead one, a POST without its CSRF token, the database
     * manager without admin_passwd; returns the session token the CSRF refusal was for.
     */
    private static String beRefused(KilnProcess kiln) throws IOException {
        assertThat(kiln.postLoginForm("db=" + db + "&login=admin&password=" + PASSWORD))
                .startsWith("HTTP/1.1 200").contains("Wrong login/password");
        assertThat(kiln.get("/hello/me")).startsWith("HTTP/1.1 303");
        assertThat(kiln.request("GET", "/hello/me", null, "Cookie: session_id=" + db + "." + TOKEN)).startsWith("HTTP/1.1 303");
        assertThat(kiln.request("POST", "/jsonrpc", "{\"jsonrpc\":\"2.0\",\"id\":1,\"params\":{\"service\":\"common\","
                + "\"method\":\"login\",\"args\":[\"" + db + "\",\"admin\",\"" + PASSWORD + "\"]}}", "Content-Type: application/json"))
                .startsWith("HTTP/1.1 200").contains("\"result\":false");
        String login = kiln.request("POST", "/web/session/authenticate", "{\"jsonrpc\":\"2.0\",\"id\":1,\"params\":{\"db\":\""
                + db + "\",\"login\":\"admin\",\"password\":\"admin\"}}", "Content-Type: application/json");
        Matcher cookie = Pattern.compile("Set-Cookie: session_id=" + Pattern.quote(db) + "\\.([A-Za-z0-9_-]{43})").matcher(login);
        assertThat(cookie.find()).as(login).isTrue();
        assertThat(kiln.request("POST", "/desk/post", "", "Cookie: session_id=" + db + "." + cookie.group(1)))
                .startsWith("HTTP/1.1 400");
        assertThat(kiln.request("POST", "/web/database/drop", "{\"jsonrpc\":\"2.0\",\"id\":1,\"params\":{\"master_pwd\":\""
                + PASSWORD + "\",\"name\":\"" + db + "\"}}", "Content-Type: application/json")).contains("odoo.exceptions.AccessDenied").doesNotContain("\"result\"");
        // the access log line of the last request follows its refusal: once it is there, so are the refusals
        kiln.awaitLog("dev\\.kiln\\.http\\.access: .*\"POST /web/database/drop\"", 1);
        return cookie.group(1);
    }

    @Test
    void devAccessLogsEachRefusalWithItsReasonButNeverThePasswordOrTheSessionId() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(Files.createTempDirectory(dir, "serve"), "--addons-path=" + addons, "-d", db,
                "--dev=access")) {
            String session = beRefused(kiln);
            String log = kiln.log();
            assertThat(log.lines().filter(line -> line.contains(" dev.kiln.access: ")).toList()).as(log).satisfiesExactly(
                    line -> assertThat(line).contains(" INFO ", "/web/login: login 'admin' to database '" + db + "' refused: wrong password (from 127.0.0.1)"),
                    line -> assertThat(line).contains(" INFO ", "GET /hello/me: auth=user route of addon hello in database '" + db
                            + "' refused: no session for this database (from 127.0.0.1)"),
                    line -> assertThat(line).contains(" INFO ", "GET /hello/me: auth=user route of addon hello in database '" + db
                            + "' refused: session AbCdEf... expired or unknown"),
                    line -> assertThat(line).contains(" INFO ", "external API common.login: login 'admin' to database '" + db
                            + "' refused: wrong password"),
                    line -> assertThat(line).contains(" INFO ", "POST /desk/post: CSRF token missing for session "
                            + session.substring(0, 6) + "... in database '" + db + "' (from 127.0.0.1)"),
                    line -> assertThat(line).contains(" INFO ", "/web/database/drop: database manager refused: no admin_passwd is set"));
            assertThat(log).doesNotContain(PASSWORD, "SessionTail", session);
        }
    }

    private static String failHttp(KilnProcess kiln) throws IOException {
        return kiln.request("GET", "/desk/fail?x=1", null, "Cookie: session_id=" + db + "." + TOKEN, "X-Api-Key: KEY-VALUE-9");
    }

    private static String failJson(KilnProcess kiln) throws IOException {
        return kiln.request("POST", "/desk/fail.json", "{\"jsonrpc\":\"2.0\",\"id\":3,\"params\":{}}", "Content-Type: application/json");
    }

    @Test
    void devDebugShowsADatabaseRoutesFailureWithItsAddonAndTheRequestMasked() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(Files.createTempDirectory(dir, "serve"), "--addons-path=" + addons, "-d", db,
                "--dev=debug")) {
            assertThat(failHttp(kiln)).startsWith("HTTP/1.1 500")
                    .contains("java.lang.IllegalStateException: desk failure", "of addon <b>desk</b>", "desk.Desk.fail(Desk.java:",
                            "GET /desk/fail?x=1 HTTP/1.1", "Cookie: [masked]", "X-Api-Key: [masked]")
                    .doesNotContain(TOKEN, "KEY-VALUE-9");
            assertThat(failJson(kiln)).startsWith("HTTP/1.1 200")
                    .contains("\"data\":{\"name\":\"java.lang.IllegalStateException\",\"message\":\"desk json failure\"",
                            "\"debug\":\"java.lang.IllegalStateException: desk json failure",
                            "desk.Desk.failJson(Desk.java:", "\"message\":\"desk json failure\"", "\"addon\":\"desk\"");
        }
    }

    @Test
    void withoutDevModesNoRefusalIsLoggedAtInfoAndNoFailureDetailIsSent() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(Files.createTempDirectory(dir, "serve"), "--addons-path=" + addons, "-d", db)) {
            assertThat(failHttp(kiln)).startsWith("HTTP/1.1 500").contains("Internal Server Error")
                    .doesNotContain("IllegalStateException", "desk", "Cookie", TOKEN, "KEY-VALUE-9", "Desk.java");
            assertThat(failJson(kiln)).contains("\"message\":\"desk json failure\"").doesNotContain("\"debug\"", "\"addon\"", "Desk.java");
            assertThat(kiln.log()).as("the trace is in the log").contains("desk.Desk.fail(Desk.java:", "desk.Desk.failJson(Desk.java:");
            String session = beRefused(kiln);
            assertThat(kiln.log()).doesNotContain("dev.kiln.access", PASSWORD, "SessionTail", session)
                    .as("the CSRF refusal keeps its warning").contains("POST /desk/post: CSRF token missing or invalid");
        }
    }
}
