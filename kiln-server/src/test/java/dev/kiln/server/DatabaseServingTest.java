package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import dev.kiln.db.SharedPostgres;
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
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Databases as an operator and an addon author meet them: a real kiln on the embedded PostgreSQL,
 * databases created and addons installed by {@code -d/-i}, routes served only where their addon is
 * installed, one transaction per request, and registry changes seen across processes.
 */
@Tag("process")
class DatabaseServingTest {

    private static final String NOTES = """
            package notes;

            import dev.kiln.api.*;
            import java.sql.*;

            public final class Notes implements Addon {
                @Override public void register(AddonContext context) { context.routes(this); }

                @Override public void onInstall(InstallContext context) throws Exception {
                    try (Statement s = context.connection().createStatement()) {
                        s.execute("INSERT INTO note (body) VALUES ('installed in " + context.database() + "')");
                    }
                }

                @Route(value = "/notes/count", auth = Route.Auth.PUBLIC)
                public Response count(Request request) throws SQLException {
                    try (Statement s = request.env().connection().createStatement();
                         ResultSet r = s.executeQuery("SELECT count(*), current_database() FROM note")) {
                        r.next();
                        return Response.text(r.getString(2) + ":" + r.getLong(1));
                    }
                }

                @Route(value = "/notes/add", auth = Route.Auth.PUBLIC, methods = "POST", csrf = false)
                public Response add(Request request) throws SQLException {
                    try (PreparedStatement s = request.env().connection().prepareStatement("INSERT INTO note (body) VALUES (?)")) {
                        s.setString(1, request.param("body").orElse("?"));
                        s.executeUpdate();
                    }
                    if (request.param("fail").isPresent()) {
                        throw new IllegalStateException("asked to fail after the insert");
                    }
                    return Response.text("added");
                }

                /** Updates one row, then waits: a second bump meanwhile hits a real serialization failure. */
                @Route(value = "/notes/bump", auth = Route.Auth.PUBLIC, methods = "POST", csrf = false)
                public Response bump(Request request) throws Exception {
                    try (Statement s = request.env().connection().createStatement()) {
                        s.executeUpdate("UPDATE note SET body = body || '+' WHERE id = 1");
                    }
                    Thread.sleep(Long.parseLong(request.param("sleep").orElse("0")));
                    return Response.text("bumped");
                }

                @Route(value = "/notes/total", type = Route.Type.JSON, auth = Route.Auth.PUBLIC)
                public Object total(Request request) throws SQLException {
                    try (Statement s = request.env().connection().createStatement();
                         ResultSet r = s.executeQuery("SELECT count(*) FROM note")) {
                        r.next();
                        return java.util.Map.of("total", r.getLong(1));
                    }
                }

                @Route(value = "/notes/mine", auth = Route.Auth.USER)
                public Response mine(Request request) {
                    return Response.text("never without a user");
                }
            }
            """;

    @TempDir
    static Path addons;

    @TempDir
    Path dir;

    @BeforeAll
    static void writeAddons() throws IOException {
        Path notes = TestAddons.addon(addons, "notes", TestAddons.manifest("notes.Notes", "base"), Map.of("notes.Notes", NOTES));
        Files.createDirectories(notes.resolve("migrations"));
        Files.writeString(notes.resolve("migrations/V1__note.sql"), "CREATE TABLE note (id serial PRIMARY KEY, body text NOT NULL);");
        Files.writeString(notes.resolve("migrations/V1_1__first_note.sql"), "INSERT INTO note (body) VALUES ('first');");

        Path broken = TestAddons.addon(addons, "broken", TestAddons.manifest(null, "base"), Map.of());
        Files.createDirectories(broken.resolve("migrations"));
        Files.writeString(broken.resolve("migrations/V1__ok.sql"), "CREATE TABLE broken_ok (id int);");
        Files.writeString(broken.resolve("migrations/V2__bad.sql"), "CREATE TABLE broken_bad (id int REFERENCES nowhere);");
    }

    private static String unique(String prefix) {
        return prefix + "_" + UUID.randomUUID().toString().substring(0, 8);
    }

    private KilnProcess init(String... args) throws Exception {
        String[] all = new String[args.length + 2];
        all[0] = "--addons-path=" + addons;
        all[1] = "--stop-after-init";
        System.arraycopy(args, 0, all, 2, args.length);
        return KilnProcess.launch(Files.createTempDirectory(dir, "init"), List.of(), all);
    }

    private KilnProcess serve(String... args) throws Exception {
        String[] all = new String[args.length + 1];
        all[0] = "--addons-path=" + addons;
        System.arraycopy(args, 0, all, 1, args.length);
        return KilnProcess.start(Files.createTempDirectory(dir, "serve"), all);
    }

    /** A kiln that creates {@code db} with notes installed, then serves it: one JVM for both, as {@code kiln -d DB -i notes} runs. */
    private KilnProcess serveNew(String db) throws Exception {
        KilnProcess kiln = serve("-d", db, "-i", "notes");
        kiln.awaitReady();      // the database created, notes installed, the registry loaded
        return kiln;
    }

    @Test
    void stopAfterInitCreatesTheDatabaseInstallsTheAddonWithItsMigrationsAndHookAndExitsZero() throws Exception {
        String db = unique("init");
        try (KilnProcess kiln = init("-d", db, "-i", "notes")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(90))).as(kiln.log()).isZero();
            assertThat(kiln.log()).contains(db + ": database created").contains(db + ": installed base, notes")
                    .contains("addon notes 1.0 installed (2 migrations)");
        }
        try (KilnProcess kiln = serve("-d", db)) {
            assertThat(kiln.get("/notes/count")).startsWith("HTTP/1.1 200").endsWith(db + ":2");
        }
    }

    @Test
    void aFailingMigrationLeavesNothingOfTheAddonAndExitsNonZeroNamingTheDatabase() throws Exception {
        String db = unique("broken");
        try (KilnProcess kiln = init("-d", db, "-i", "broken")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(90))).isEqualTo(1);
            assertThat(kiln.log()).containsPattern("CRITICAL: failed to initialize database '" + db
                    + "': " + db + ": installing addon 'broken' failed, nothing of it was applied: .*V2__bad.sql");
        }
        try (KilnProcess kiln = serve("-d", db)) {
            kiln.awaitReady();     // its PostgreSQL is up, the registry loaded
            // broken_ok was created by V1 in the same transaction as the failing V2: it must be gone too
            assertThat(query(db, "SELECT to_regclass('broken_ok') IS NULL AND to_regclass('broken_bad') IS NULL"))
                    .isEqualTo("t");
            assertThat(query(db, "SELECT string_agg(name, ',' ORDER BY name) FROM kiln_addon")).isEqualTo("base");
            assertThat(query(db, "SELECT count(*) FROM kiln_migration WHERE addon = 'broken'")).isEqualTo("0");
        }
    }

    /** One value read straight from {@code db} on the embedded server the kiln processes share. */
    private static String query(String db, String sql) throws Exception {
        try (java.sql.Connection connection = java.sql.DriverManager.getConnection(
                "jdbc:postgresql://localhost:" + SharedPostgres.port() + "/" + db, "postgres", "");
             java.sql.Statement statement = connection.createStatement();
             java.sql.ResultSet row = statement.executeQuery(sql)) {
            row.next();
            return row.getString(1);
        }
    }

    @Test
    void aRouteAnswersOnlyInDatabasesWhereItsAddonIsInstalled() throws Exception {
        String with = unique("with"), without = unique("without");
        assertThat(init("-d", with + "," + without, "-i", "notes").awaitExit(Duration.ofSeconds(90))).isZero();
        // the second database also got notes above: make a third with base only
        String bare = unique("bare");
        assertThat(init("-d", bare).awaitExit(Duration.ofSeconds(90))).isZero();
        try (KilnProcess kiln = serve("-d", with + "," + bare)) {
            assertThat(kiln.request("GET", "/notes/count", null, "X-Kiln-Database: " + with)).startsWith("HTTP/1.1 200");
            assertThat(kiln.request("GET", "/notes/count", null, "X-Kiln-Database: " + bare)).startsWith("HTTP/1.1 404");
            assertThat(kiln.get("/notes/count")).as("two databases, none chosen").startsWith("HTTP/1.1 404");
            assertThat(kiln.get("/notes/count?db=" + with)).startsWith("HTTP/1.1 200");
            assertThat(kiln.get("/hello")).as("server-wide routes answer without a database").startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void aRequestCommitsWhenItsHandlerReturnsAndRollsBackWhenItThrows() throws Exception {
        String db = unique("tx");
        try (KilnProcess kiln = serveNew(db)) {
            assertThat(kiln.request("POST", "/notes/add?body=kept", "")).startsWith("HTTP/1.1 200");
            assertThat(kiln.request("POST", "/notes/add?body=lost&fail=1", "")).startsWith("HTTP/1.1 500")
                    .doesNotContain("asked to fail");
            assertThat(kiln.get("/notes/count")).endsWith(db + ":3");
            assertThat(kiln.request("POST", "/notes/total", "{\"jsonrpc\":\"2.0\",\"method\":\"call\",\"params\":{},\"id\":7}",
                    "Content-Type: application/json")).contains("\"id\":7").contains("\"result\":{\"total\":3}");
        }
    }

    @Test
    void anAuthUserRouteSendsAGuestToTheLoginPage() throws Exception {
        String db = unique("guest");
        try (KilnProcess kiln = serveNew(db)) {
            assertThat(kiln.get("/notes/mine")).startsWith("HTTP/1.1 303").contains("Location: /web/login?redirect=%2Fnotes%2Fmine");
        }
    }

    @Test
    void anAddonInstalledByAnotherProcessIsServedWithoutARestart() throws Exception {
        String db = unique("signal");
        assertThat(init("-d", db).awaitExit(Duration.ofSeconds(90))).isZero();
        try (KilnProcess kiln = serve("-d", db)) {
            assertThat(kiln.get("/notes/count")).startsWith("HTTP/1.1 404");

            try (KilnProcess other = init("-d", db, "-i", "notes")) {
                assertThat(other.awaitExit(Duration.ofSeconds(90))).as(other.log()).isZero();
            }

            assertThat(kiln.get("/notes/count")).startsWith("HTTP/1.1 200").endsWith(db + ":2");
            kiln.awaitLog(db + ": registry loaded with 4 addons", 1);
        }
    }

    @Test
    void anUpdateAppliesOnlyTheNewScriptsAndRefusesAnEditedOne() throws Exception {
        Path own = Files.createDirectories(dir.resolve("own-addons"));
        Path evolving = TestAddons.addon(own, "evolving", TestAddons.manifest(null, "base"), Map.of());
        Files.createDirectories(evolving.resolve("migrations"));
        Files.writeString(evolving.resolve("migrations/V1__table.sql"), "CREATE TABLE evolving (id int);");
        String db = unique("update");
        String path = "--addons-path=" + own + "," + addons;
        assertThat(init(path, "-d", db, "-i", "evolving").awaitExit(Duration.ofSeconds(90))).isZero();

        Files.writeString(evolving.resolve("migrations/V2__column.sql"), "ALTER TABLE evolving ADD COLUMN name text;");
        try (KilnProcess kiln = init(path, "-d", db, "-u", "evolving")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(90))).as(kiln.log()).isZero();
            assertThat(kiln.log()).contains("addon evolving 1.0 updated (1 migration)");
        }

        Files.writeString(evolving.resolve("migrations/V1__table.sql"), "CREATE TABLE evolving (id bigint);");
        try (KilnProcess kiln = init(path, "-d", db, "-u", "evolving")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(90))).isEqualTo(1);
            assertThat(kiln.log()).contains("V1__table.sql changed after it was applied; add a new version instead of editing it");
        }
    }

    @Test
    void aRequestThatLosesASerializationRaceIsRunAgainAndSucceeds() throws Exception {
        String db = unique("retry");
        try (KilnProcess kiln = serveNew(db)) {
            CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> post(kiln, "/notes/bump?sleep=1500"));
            // the first has updated the row and holds its new version until it commits
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> query(db,
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'")
                    .equals("1"));
            String second = post(kiln, "/notes/bump");

            assertThat(first.get()).startsWith("HTTP/1.1 200");
            assertThat(second).startsWith("HTTP/1.1 200");
            kiln.awaitLog("database '" + db + "': .*could not serialize access due to concurrent update.*\\(SQLSTATE 40001\\), try 2 of 5", 1);
            assertThat(kiln.get("/notes/count")).endsWith(db + ":2");
        }
    }

    @Test
    void anAutoInstallAddonComesWithTheLastOfItsDependencies() throws Exception {
        Path own = Files.createDirectories(dir.resolve("auto-addons"));
        TestAddons.addon(own, "glue", "{\"version\": \"1.0\", \"depends\": [\"notes\", \"extra\"], \"auto_install\": true}", Map.of());
        Path extra = TestAddons.addon(own, "extra", TestAddons.manifest(null, "base"), Map.of());
        Files.createDirectories(extra.resolve("migrations"));
        Files.writeString(extra.resolve("migrations/V1__extra.sql"), "CREATE TABLE extra (id int);");
        String db = unique("auto");
        String path = "--addons-path=" + own + "," + addons;
        try (KilnProcess kiln = init(path, "-d", db, "-i", "notes")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(90))).isZero();
            assertThat(kiln.log()).contains(db + ": installed base, notes").doesNotContain("glue");
        }
        try (KilnProcess kiln = init(path, "-d", db, "-i", "extra")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(90))).isZero();
            assertThat(kiln.log()).contains(db + ": installed extra, glue");
        }
    }

    @Test
    void anUnreachableServerIsOneCriticalLineNamingTheDatabaseNotAHang() throws Exception {
        int closed = KilnProcess.freePort();
        try (KilnProcess kiln = init("--db_host=127.0.0.1", "--db_port=" + closed, "-d", "nowhere")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(60))).isEqualTo(1);
            assertThat(kiln.log()).containsPattern("CRITICAL: failed to initialize database 'nowhere': .*127\\.0\\.0\\.1:" + closed)
                    .doesNotContain("\tat ");
        }
    }

    @Test
    void aDatabaseThatDoesNotExistIsNotAChoiceAndTheOthersAreStillServed() throws Exception {
        String db = unique("alive");
        assertThat(init("-d", db, "-i", "notes").awaitExit(Duration.ofSeconds(90))).isZero();
        try (KilnProcess kiln = serve()) {
            assertThat(kiln.request("GET", "/notes/count", null, "X-Kiln-Database: " + db)).startsWith("HTTP/1.1 200");
            String gone = kiln.request("GET", "/notes/count", null, "X-Kiln-Database: " + unique("gone"));
            assertThat(gone).as("a database that does not exist is not a choice").startsWith("HTTP/1.1 404");
            assertThat(kiln.request("GET", "/notes/count", null, "X-Kiln-Database: " + db)).startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void dbfilterChoosesTheDatabaseFromTheHostName() throws Exception {
        String suffix = UUID.randomUUID().toString().substring(0, 6);
        String acme = "acme" + suffix, shop = "shop" + suffix;
        try (KilnProcess kiln = serve("-d", acme + "," + shop, "-i", "notes", "--db-filter=^%d$")) {
            kiln.awaitReady();
            assertThat(kiln.request("GET", "/notes/count", null, "Host: " + acme + ".example.com")).endsWith(acme + ":2");
            assertThat(kiln.request("GET", "/notes/count", null, "Host: www." + shop + ".example.com:8069")).endsWith(shop + ":2");
            assertThat(kiln.request("GET", "/notes/count", null, "Host: other.example.com")).startsWith("HTTP/1.1 404");
            assertThat(kiln.request("GET", "/notes/count", null, "Host: " + acme + ".example.com", "X-Kiln-Database: " + shop))
                    .as("a database the filter hides cannot be asked for").startsWith("HTTP/1.1 404");
            assertThat(kiln.request("GET", "/notes/count", null, "Host: " + acme + ".example.com", "X-Forwarded-Host: " + shop + ".example.com"))
                    .as("without --proxy-mode a forwarded host is not believed").endsWith(acme + ":2");
            assertThat(kiln.request("POST", "/web/database/list", "{}", "Content-Type: application/json",
                    "Host: " + acme + ".example.com"))
                    .as("a host lists only the databases its filter lets it see").contains("\"" + acme + "\"").doesNotContain(shop);
            assertThat(kiln.request("POST", "/web/database/list", "{}", "Content-Type: application/json",
                    "Host: other.example.com")).contains("\"result\":[]");
        }
        try (KilnProcess kiln = serve("-d", acme + "," + shop, "--db-filter=^%d$", "--proxy-mode")) {
            assertThat(kiln.request("GET", "/notes/count", null, "Host: 127.0.0.1", "X-Forwarded-Host: " + shop + ".example.com"))
                    .as("behind a proxy the forwarded host counts").endsWith(shop + ":2");
        }
    }

    private static String post(KilnProcess kiln, String path) {
        try {
            return kiln.request("POST", path, "");
        } catch (IOException e) {
            return e.toString();
        }
    }
}
