package dev.kiln.server;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code --dev=access} as a developer meets it: a real kiln on a real database, refused logins and
 * accesses each logged on {@code dev.kiln.access} with the reason the client is not told, never
 * with the password or the whole session id; and without the option, none of it at INFO.
 */
@Tag("process")
class DevAccessTest {

    private static final String PASSWORD = "not-the-Password-42";
    /** Shaped as Kiln's tokens are (43 URL-safe characters), so it is looked up and found dead. */
    private static final String TOKEN = "AbCdEf" + "SessionTail" + "abcdefghijklmnopqrstuvwxyz";

    @TempDir
    static Path dir;

    static String db;

    @BeforeAll
    static void createDatabase() throws Exception {
        db = "devaccess_" + UUID.randomUUID().toString().substring(0, 8);
        try (KilnProcess kiln = KilnProcess.launch(Files.createTempDirectory(dir, "init"), List.of(),
                "--stop-after-init", "-d", db, "-i", "base")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(90))).as(kiln.log()).isZero();
        }
    }

    /**
     * The refusals the test makes: a wrong password on the login form and over JSON-RPC, an auth=user
     * route without a session and with a dead one, the database manager without admin_passwd.
     */
    private static void beRefused(KilnProcess kiln) throws IOException {
        assertThat(kiln.request("POST", "/web/login", "db=" + db + "&login=admin&password=" + PASSWORD,
                "Content-Type: application/x-www-form-urlencoded")).startsWith("HTTP/1.1 200").contains("Wrong login/password");
        assertThat(kiln.get("/hello/me")).startsWith("HTTP/1.1 303");
        assertThat(kiln.request("GET", "/hello/me", null, "Cookie: session_id=" + db + "." + TOKEN)).startsWith("HTTP/1.1 303");
        assertThat(kiln.request("POST", "/jsonrpc", "{\"jsonrpc\":\"2.0\",\"id\":1,\"params\":{\"service\":\"common\","
                + "\"method\":\"login\",\"args\":[\"" + db + "\",\"admin\",\"" + PASSWORD + "\"]}}", "Content-Type: application/json"))
                .startsWith("HTTP/1.1 200").contains("\"result\":false");
        assertThat(kiln.request("POST", "/web/database/drop", "{\"jsonrpc\":\"2.0\",\"id\":1,\"params\":{\"master_pwd\":\""
                + PASSWORD + "\",\"name\":\"" + db + "\"}}", "Content-Type: application/json")).contains("dev.kiln.AccessDenied").doesNotContain("\"result\"");
        // the access log line of the last request follows its refusal: once it is there, so are the refusals
        kiln.awaitLog("dev\\.kiln\\.http\\.access: .*\"POST /web/database/drop\"", 1);
    }

    @Test
    void devAccessLogsEachRefusalWithItsReasonButNeverThePasswordOrTheSessionId() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(Files.createTempDirectory(dir, "serve"), "-d", db, "--dev=access")) {
            beRefused(kiln);
            String log = kiln.log();
            assertThat(log.lines().filter(line -> line.contains(" dev.kiln.access: ")).toList()).as(log).satisfiesExactly(
                    line -> assertThat(line).contains(" INFO ", "/web/login: login 'admin' to database '" + db + "' refused: wrong password (from 127.0.0.1)"),
                    line -> assertThat(line).contains(" INFO ", "GET /hello/me: auth=user route of addon hello in database '" + db
                            + "' refused: no session for this database (from 127.0.0.1)"),
                    line -> assertThat(line).contains(" INFO ", "GET /hello/me: auth=user route of addon hello in database '" + db
                            + "' refused: session AbCdEf... expired or unknown"),
                    line -> assertThat(line).contains(" INFO ", "external API common.login: login 'admin' to database '" + db
                            + "' refused: wrong password"),
                    line -> assertThat(line).contains(" INFO ", "/web/database/drop: database manager refused: no admin_passwd is set"));
            assertThat(log).doesNotContain(PASSWORD, "SessionTail");
        }
    }

    @Test
    void withoutDevAccessNoRefusalIsLoggedAtInfo() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(Files.createTempDirectory(dir, "serve"), "-d", db)) {
            beRefused(kiln);
            assertThat(kiln.log()).doesNotContain("dev.kiln.access", PASSWORD, "SessionTail");
        }
    }
}
