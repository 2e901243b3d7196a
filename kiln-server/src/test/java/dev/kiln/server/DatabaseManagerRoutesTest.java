package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The web database manager against a real kiln on the embedded PostgreSQL: the master password
 * guards every operation the same way whether or not the database exists, list_db = False hides
 * it, and a database survives create, duplicate, backup, drop and restore with its addons.
 */
@Tag("process")
class DatabaseManagerRoutesTest {

    private static final String PING = """
            package ping;

            import dev.kiln.api.*;

            public final class Ping implements Addon {
                @Override public void register(AddonContext context) { context.routes(this); }

                @Route(value = "/ping/db", auth = Route.Auth.PUBLIC)
                public Response db(Request request) throws Exception {
                    try (var s = request.env().connection().createStatement();
                         var r = s.executeQuery("SELECT current_database(), count(*) FROM ping")) {
                        r.next();
                        return Response.text("pong from " + r.getString(1) + ":" + r.getLong(2));
                    }
                }
            }
            """;
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final String MASTER = "correct horse battery";
    /**
     * {@link #MASTER} as odoo.conf holds it, hashed with Odoo's 600,000 rounds (Python's hashlib), so
     * a check costs here what it costs in production: new hashes in the tests have fewer rounds.
     */
    private static final String MASTER_HASH = "$pbkdf2-sha512$600000$a2lsbi10ZXN0LXNhbHQxNg$k0KFAqZCXdXERytgVul5pYk1f.KTjtz9criQbvLtc"
            + "lj3W0XZQgrWHxer5wPWtiw3x93PZMhQ.WBs0hp50YSdpQ";

    @TempDir
    static Path addons;

    @TempDir
    Path dir;

    @BeforeAll
    static void writeAddons() throws IOException {
        Path ping = TestAddons.addon(addons, "ping", TestAddons.manifest("ping.Ping", "base"), Map.of("ping.Ping", PING));
        Files.createDirectories(ping.resolve("migrations"));
        Files.writeString(ping.resolve("migrations/V1__ping.sql"), "CREATE TABLE ping (id int); INSERT INTO ping VALUES (1);");
    }

    private static String unique(String prefix) {
        return prefix + "_" + UUID.randomUUID().toString().substring(0, 8);
    }

    private Path config(String... lines) throws IOException {
        Path file = Files.createTempFile(dir, "kiln", ".conf");
        Files.write(file, java.util.stream.Stream.concat(java.util.stream.Stream.of("[options]"), java.util.Arrays.stream(lines)).toList());
        return file;
    }

    private KilnProcess serve(String... args) throws Exception {
        String[] all = new String[args.length + 1];
        all[0] = "--addons-path=" + addons;
        System.arraycopy(args, 0, all, 1, args.length);
        return KilnProcess.start(Files.createTempDirectory(dir, "serve"), all);
    }

    private static JsonNode call(KilnProcess kiln, String action, Object... keyThenValues) throws IOException {
        Map<String, Object> params = new LinkedHashMap<>();
        for (int i = 0; i < keyThenValues.length; i += 2) {
            params.put((String) keyThenValues[i], keyThenValues[i + 1]);
        }
        String body = JSON.writeValueAsString(Map.of("jsonrpc", "2.0", "id", 1, "method", "call", "params", params));
        String response = kiln.request("POST", "/web/database/" + action, body, "Content-Type: application/json");
        assertThat(response).startsWith("HTTP/1.1 200");
        return JSON.readTree(response.substring(response.indexOf("\r\n\r\n") + 4));
    }

    @Test
    void aWrongMasterPasswordGetsTheSameAnswerWhetherOrNotTheDatabaseExists() throws Exception {
        String db = unique("mgr");
        try (KilnProcess kiln = serve("-c", config("admin_passwd = " + MASTER_HASH).toString())) {
            assertThat(call(kiln, "create", "master_pwd", MASTER, "name", db, "login", "admin", "password", "pw")
                    .path("result").asBoolean()).isTrue();
            long start = System.nanoTime();
            JsonNode existing = call(kiln, "drop", "master_pwd", "wrong", "name", db);
            long existingNanos = System.nanoTime() - start;
            start = System.nanoTime();
            JsonNode missing = call(kiln, "drop", "master_pwd", "wrong", "name", db + "_missing");
            long missingNanos = System.nanoTime() - start;
            assertThat(existing).isEqualTo(missing);
            assertThat(existing.path("error").path("data").path("message").asString()).isEqualTo("Access Denied");
            // both pay one PBKDF2 verification and touch no database
            assertThat(existingNanos).isGreaterThan(Duration.ofMillis(50).toNanos());
            assertThat(missingNanos).isGreaterThan(Duration.ofMillis(50).toNanos());
            assertThat(call(kiln, "list").path("result").valueStream().map(JsonNode::asString).toList()).contains(db);
        } finally {
            try (KilnProcess kiln = serve("-c", config("admin_passwd = " + MASTER).toString())) {
                call(kiln, "drop", "master_pwd", MASTER, "name", db);
            }
        }
    }

    @Test
    void aBackupWhoseCheckConstraintRunsAProgramIsRefusedOnRestoreWithoutRunningIt() throws Exception {
        String source = unique("evil");
        String target = source + "_restored";
        Path marker = Path.of("/tmp", "kiln-restore-ran-" + UUID.randomUUID());
        try (KilnProcess kiln = serve("-c", config("admin_passwd = " + MASTER).toString())) {
            assertThat(call(kiln, "create", "master_pwd", MASTER, "name", source, "login", "admin", "password", "pw")
                    .path("result").asBoolean()).isTrue();
            // what a hostile dump holds: a CHECK whose function runs a program wherever it is restored
            try (java.sql.Connection connection = java.sql.DriverManager.getConnection("jdbc:postgresql://localhost:"
                    + CronHarness.sharedPort() + "/" + source, "kiln", "");
                 java.sql.Statement statement = connection.createStatement()) {
                statement.execute("CREATE FUNCTION pwn(v int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN"
                        + " IF current_database() <> '" + source + "' THEN"
                        + " EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch " + marker + "'''; END IF; RETURN true; END $$");
                statement.execute("CREATE TABLE pwned (v int CHECK (pwn(v)))");
                statement.execute("INSERT INTO pwned VALUES (1)");
            }
            String archive = call(kiln, "backup", "master_pwd", MASTER, "name", source).path("result").path("backup_file").asString();
            assertThat(archive).isNotEmpty();

            JsonNode restored = call(kiln, "restore", "master_pwd", MASTER, "name", target, "backup_file", archive);
            assertThat(restored.path("error").path("data").path("message").asString()).as(restored.toString())
                    .contains("must be superuser or have privileges of the pg_execute_server_program role");
            assertThat(marker).as("the program the dump asked for").doesNotExist();
            assertThat(call(kiln, "list").path("result").valueStream().map(JsonNode::asString).toList())
                    .contains(source).doesNotContain(target);
            assertThat(call(kiln, "drop", "master_pwd", MASTER, "name", source).path("result").asBoolean()).isTrue();
        } finally {
            Files.deleteIfExists(marker);
        }
    }

    @Test
    void withoutAdminPasswdEveryOperationIsRefusedAndListDbFalseHidesTheManager() throws Exception {
        try (KilnProcess kiln = serve()) {
            JsonNode refused = call(kiln, "create", "master_pwd", "admin", "name", unique("never"), "password", "x");
            assertThat(refused.path("error").path("data").path("message").asString())
                    .startsWith("the database manager is disabled: set admin_passwd");
        }
        try (KilnProcess kiln = serve("--no-database-list", "-c", config("admin_passwd = " + MASTER).toString())) {
            assertThat(kiln.request("POST", "/web/database/list", "{}", "Content-Type: application/json")).startsWith("HTTP/1.1 404");
            assertThat(kiln.request("POST", "/web/database/drop", "{}", "Content-Type: application/json")).startsWith("HTTP/1.1 404");
        }
    }

    @Test
    void createDuplicateBackupDropRestoreRoundTripKeepsTheInstalledAddon() throws Exception {
        String db = unique("trip");
        String copy = db + "_copy";
        try (KilnProcess init = KilnProcess.launch(Files.createTempDirectory(dir, "init"), List.of(),
                "--addons-path=" + addons, "--stop-after-init", "-d", db, "-i", "ping")) {
            assertThat(init.awaitExit(Duration.ofSeconds(90))).as(init.log()).isZero();
        }
        try (KilnProcess kiln = serve("-c", config("admin_passwd = " + dev.kiln.auth.Passwords.hash(MASTER)).toString())) {
            String header = "X-Kiln-Database: " + db;
            assertThat(kiln.request("GET", "/ping/db", null, header)).endsWith("pong from " + db + ":1");
            assertThat(call(kiln, "duplicate", "master_pwd", MASTER, "name", db, "new_name", copy).path("result").asBoolean()).isTrue();
            JsonNode backup = call(kiln, "backup", "master_pwd", MASTER, "name", db);
            String archive = backup.path("result").path("backup_file").asString();
            assertThat(archive).as(backup.toString()).isNotEmpty();
            assertThat(call(kiln, "drop", "master_pwd", MASTER, "name", db).path("result").asBoolean()).isTrue();
            assertThat(call(kiln, "list").path("result").valueStream().map(JsonNode::asString).toList())
                    .contains(copy).doesNotContain(db);
            JsonNode restored = call(kiln, "restore", "master_pwd", MASTER, "name", db, "backup_file", archive);
            assertThat(restored.path("result").asBoolean()).as(restored.toString()).isTrue();
            assertThat(kiln.request("GET", "/ping/db", null, header)).endsWith("pong from " + db + ":1");
            assertThat(kiln.request("GET", "/ping/db", null, "X-Kiln-Database: " + copy)).endsWith("pong from " + copy + ":1");
            JsonNode again = call(kiln, "restore", "master_pwd", MASTER, "name", db, "backup_file", archive);
            assertThat(again.path("error").path("data").path("message").asString()).isEqualTo("database '" + db + "' already exists");
        } finally {
            try (KilnProcess kiln = serve("-c", config("admin_passwd = " + MASTER).toString())) {
                call(kiln, "drop", "master_pwd", MASTER, "name", db);
                call(kiln, "drop", "master_pwd", MASTER, "name", copy);
            }
        }
    }

    @Test
    void aRestoreWithAWrongMasterPasswordIsRefusedBeforeItsArchiveIsRead() throws Exception {
        try (KilnProcess kiln = serve("-c", config("admin_passwd = " + MASTER).toString())) {
            try (java.net.Socket socket = new java.net.Socket("127.0.0.1", kiln.port())) {
                socket.setSoTimeout(60_000);
                java.io.OutputStream out = socket.getOutputStream();
                // a 200 MB upload announced; only its start is ever sent
                out.write(("POST /web/database/restore HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        + "Content-Length: 200000000\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"params\":{\"master_pwd\":\"wrong\","
                        + "\"name\":\"never\",\"backup_file\":\"UEsDBA").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                out.flush();
                String answer = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                assertThat(answer).startsWith("HTTP/1.1 200").contains("Connection: close").contains("odoo.exceptions.AccessDenied")
                        .doesNotContain("\"result\"");
            }
            String unordered = kiln.request("POST", "/web/database/restore", "{\"params\":{\"name\":\"never\",\"backup_file\":\"UEsDBA==\","
                    + "\"master_pwd\":\"" + MASTER + "\"}}", "Content-Type: application/json");
            assertThat(unordered).startsWith("HTTP/1.1 400").contains("send master_pwd before backup_file");
        }
    }
}
