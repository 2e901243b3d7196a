package dev.kiln.server;

import dev.kiln.bench.LoadClients;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Read-only methods on a replica ({@code db_replica_host}, Odoo's option): with the standby's
 * replay paused, a record just created on the primary is not found by another user's
 * {@code search_count} or {@code read}, which ran on the standby, while the user who created it
 * reads on the primary until the standby replays it; writes go to the primary. A read-only method that writes
 * (an addon's override of {@code search}) is refused by the replica and run again on the primary,
 * as Odoo does, with one WARNING line; {@code --dev=replica} shows the same without a replica.
 * Routes marked {@code readonly} run there too, unless their user wrote lately or their session is
 * newer than the replica. One pair serves the class, a database for each test.
 */
@Tag("process")
class ReplicaTest {

    /**
     * An addon whose search writes (what a replica refuses), with routes that say where they ran:
     * a read-only one that counts partners, a read-only one that writes, and one that adds a partner.
     */
    private static final String COUNTED = """
            package counted;

            import dev.kiln.api.*;
            import java.sql.*;

            public final class Counted implements Addon {
                @Override public void register(AddonContext context) {
                    context.model(ModelSpec.extend("res.partner").override("search", (call, next) -> {
                        try (Statement statement = call.env().connection().createStatement()) {
                            statement.execute("INSERT INTO counted_search DEFAULT VALUES");
                        }
                        return next.call(call);
                    }));
                    context.routes(new Pages());
                }

                public static final class Pages {
                    @Route(value = "/counted/names", readonly = true)
                    public Response names(Request request) throws SQLException {
                        try (PreparedStatement count = request.env().connection().prepareStatement(
                                "SELECT count(*), pg_is_in_recovery() FROM res_partner WHERE name = ?")) {
                            count.setString(1, request.param("name").orElse(""));
                            try (ResultSet row = count.executeQuery()) {
                                row.next();
                                return Response.text(row.getLong(1) + (row.getBoolean(2) ? " on the replica" : " on the primary"));
                            }
                        }
                    }

                    @Route(value = "/counted/tally", auth = Route.Auth.PUBLIC, readonly = true)
                    public Response tally(Request request) throws SQLException {
                        try (Statement statement = request.env().connection().createStatement()) {
                            boolean replica;
                            try (ResultSet row = statement.executeQuery("SELECT pg_is_in_recovery()")) {
                                row.next();
                                replica = row.getBoolean(1);
                            }
                            statement.execute("INSERT INTO counted_search DEFAULT VALUES");
                            return Response.text(replica ? "tallied on the replica" : "tallied on the primary");
                        }
                    }

                    @Route(value = "/counted/add")
                    public Response add(Request request) throws SQLException {
                        try (PreparedStatement insert = request.env().connection().prepareStatement(
                                "INSERT INTO res_partner (name) VALUES (?)")) {
                            insert.setString(1, request.param("name").orElse(""));
                            insert.executeUpdate();
                        }
                        return Response.text("added");
                    }
                }
            }
            """;
    private static final String CLIENT = """
            import os, sys, xmlrpc.client
            url, db, action = sys.argv[1], sys.argv[2], sys.argv[3]
            uid, password = int(os.environ.get("KILN_UID", "2")), os.environ.get("KILN_PASSWORD", "admin")
            models = xmlrpc.client.ServerProxy(url + "/xmlrpc/2/object")
            def call(method, *args, **kw):
                return models.execute_kw(db, uid, password, "res.partner", method, list(args), kw)
            if action == "create":
                print(call("create", {"name": sys.argv[4]}))
            elif action == "user":
                print(models.execute_kw(db, uid, password, "res.users", "create",
                                        [{"login": sys.argv[4], "name": sys.argv[4], "password": sys.argv[4] + "-pass"}]))
            else:
                print(call("search_count", [["name", "=", sys.argv[4]]]), len(call("read", [int(sys.argv[5])], ["name"])),
                      len(call("search", [["name", "=", sys.argv[4]]])))
            """;

    @TempDir
    Path dir;

    private static StreamingPair pair;

    @BeforeAll
    static void startPair() throws Exception {
        pair = StreamingPair.start();
    }

    @AfterAll
    static void stopPair() throws Exception {
        if (pair != null) {
            pair.close();
        }
    }

    /** The addons folder holding {@link #COUNTED}, with its table. */
    private Path counted() throws java.io.IOException {
        return CronHarness.addon(dir, "counted", "counted.Counted", COUNTED, "V1__counted.sql",
                "CREATE TABLE counted_search (id serial PRIMARY KEY);");
    }

    /** Kiln serving {@code db} on the pair's primary, the standby its replica, no cron runner; then {@code more}. */
    private KilnProcess onPair(String db, String... more) throws Exception {
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("--db_host=127.0.0.1",
                "--db_port=" + pair.primaryPort, "--db_replica_host=127.0.0.1", "--db_replica_port=" + pair.standbyPort,
                "--db_user=kiln", "-d", db, "--max-cron-threads=0"));
        args.addAll(java.util.List.of(more));
        return KilnProcess.start(Files.createTempDirectory(dir, "kiln"), args.toArray(String[]::new));
    }

    /** The client as the user {@code uid} on {@code db}. */
    private String python(String url, String db, String uid, String password, String... args) throws Exception {
        java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of("env", "KILN_UID=" + uid,
                "KILN_PASSWORD=" + password, "python3", "-c", CLIENT, url, db));
        command.addAll(java.util.List.of(args));
        return Commands.run(dir, java.time.Duration.ofMinutes(2), false, command);
    }

    @Test
    void readOnlyMethodsRunOnTheReplicaAndOneThatWritesRunsAgainOnThePrimary() throws Exception {
        Path addons = counted();
        try (KilnProcess kiln = onPair("replicated", "--addons-path=" + addons, "-i", "counted")) {
            kiln.awaitReady();
            String url = "http://127.0.0.1:" + kiln.port();
            String seen = Commands.python(dir, CLIENT, url, "replicated", "create", "Seen").strip();
            pair.awaitCaughtUp();
            assertThat(Commands.python(dir, CLIENT, url, "replicated", "find", "Seen", seen)).isEqualTo("1 1 1\n");

            String other = Commands.python(dir, CLIENT, url, "replicated", "user", "reader").strip();
            pair.awaitCaughtUp();

            pair.psql(pair.standbyPort, "SELECT pg_wal_replay_pause()");
            String unseen = Commands.python(dir, CLIENT, url, "replicated", "create", "Unseen").strip();
            assertThat(unseen).as("created on the primary").matches("\\d+");
            // another user's search_count and read ran on the paused standby: the record is not there yet;
            // search wrote (the override), so it ran on the primary
            assertThat(python(url, "replicated", other, "reader-pass", "find", "Unseen", unseen)).as(kiln.log())
                    .isEqualTo("0 0 1\n");
            // the user who wrote it reads on the primary until the standby has replayed that write
            assertThat(Commands.python(dir, CLIENT, url, "replicated", "find", "Unseen", unseen)).isEqualTo("1 1 1\n");
            assertThat(pair.psql(pair.primaryPort, "replicated", "SELECT count(*) FROM counted_search").strip())
                    .as("each search wrote once, on the primary").isEqualTo("3");
            assertThat(kiln.log()).contains("res.partner.search wrote in a read-only transaction (on the replica); run again"
                    + " on the primary").doesNotContain("\tat ");
            pair.psql(pair.standbyPort, "SELECT pg_wal_replay_resume()");
        }
    }

    /**
     * Read-only work that keeps every replica connection of {@code db_maxconn} busy keeps those
     * connections: the replica's watch, which looks at the replica every second, never makes room
     * by closing them (it once did, and the pool opened a new session for nearly every request).
     */
    @Test
    void aReplicaBusyWithEveryConnectionKeepsItsSessions() throws Exception {
        int maxconn = 4;
        try (KilnProcess kiln = onPair("busy", "--addons-path=" + counted(), "-i", "counted", "--db_maxconn=" + maxconn)) {
            kiln.awaitReady();
            pair.awaitCaughtUp();
            String path = "/hello/db/ro?db=busy";
            assertThat(kiln.okBody(path, null)).isEqualTo("1");
            long sessions = standbySessions();
            LoadClients.Tally tally;
            try (LoadClients load = LoadClients.start(kiln.port(), path, 2 * maxconn)) {
                // five looks of the watch while twice as many clients as connections keep the pool full
                awaitWatchLooks(5);
                tally = load.stop();
            }
            assertThat(tally.failed()).as(tally.toString()).isZero();
            assertThat(tally.count(LoadClients.Outcome.SUCCESS)).as(tally.toString()).isGreaterThan(100);
            // a backend reports its session when it ends (a closed one) or once idle for a while
            assertThat(standbySessions() - sessions).as("sessions opened in busy on the standby under load; " + tally)
                    .isLessThanOrEqualTo(maxconn);
        }
    }

    /** Sessions the standby has opened in {@code busy} since it started (the psql that asks, asks in another database). */
    private static long standbySessions() throws Exception {
        return Long.parseLong(pair.psql(pair.standbyPort, "template1",
                "SELECT sessions FROM pg_stat_database WHERE datname = 'busy'").strip());
    }

    /**
     * Waits until Kiln's replica watch began its query on the standby {@code looks} more times; a watch
     * that cannot look (no connection left for it) fails the wait, with the sessions opened meanwhile.
     */
    private static void awaitWatchLooks(int looks) throws Exception {
        java.util.Set<String> seen = new java.util.HashSet<>();
        long sessions = standbySessions();
        try {
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofMinutes(1)).until(() -> {
                seen.add(pair.psql(pair.standbyPort, "template1", "SELECT query_start FROM pg_stat_activity WHERE usename = 'kiln'"
                        + " AND query LIKE '%pg_last_wal_replay_lsn()%'").strip());
                return seen.stream().filter(start -> !start.isEmpty()).count() > looks;
            });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("the replica watch began " + seen.stream().filter(start -> !start.isEmpty()).count()
                    + " looks in a minute of load, not " + looks + "; sessions opened in busy meanwhile: "
                    + (standbySessions() - sessions), e);
        }
    }

    /** A test that failed while the standby's replay was paused leaves it replaying for the next. */
    @org.junit.jupiter.api.AfterEach
    void replayResumed() throws Exception {
        pair.resumeReplay();
    }

    @Test
    void aReplicaFurtherBehindThanItsMaxLagIsLeftUntilItCatchesUp() throws Exception {
        try (KilnProcess kiln = onPair("guarded", "--db-replica-max-lag=1")) {
            kiln.awaitReady();
            String url = "http://127.0.0.1:" + kiln.port();
            String reader = Commands.python(dir, CLIENT, url, "guarded", "user", "reader").strip();
            pair.awaitCaughtUp();
            // on a loaded machine the replica may already have been more than 1 s behind for a moment
            // (and back): count from here
            String left = "read-only work goes to the primary until it catches up";
            String back = "read-only work goes to it again";
            int leftBefore = kiln.count(left);
            int backBefore = kiln.count(back);
            pair.psql(pair.standbyPort, "SELECT pg_wal_replay_pause()");
            String late = Commands.python(dir, CLIENT, url, "guarded", "create", "Late").strip();
            // the replica received the new record but does not replay it: soon more than 1 s behind, and left,
            // for every user (the one who wrote reads on the primary anyway)
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(python(url, "guarded", reader, "reader-pass", "find", "Late", late)).isEqualTo("1 1 1\n"));
            assertThat(kiln.count(left)).as("one line for the change, whatever the requests meanwhile")
                    .isEqualTo(leftBefore + 1);
            pair.psql(pair.standbyPort, "SELECT pg_wal_replay_resume()");
            kiln.awaitLog(back, backBefore + 1);
            assertThat(python(url, "guarded", reader, "reader-pass", "find", "Late", late)).isEqualTo("1 1 1\n");
        }
    }

    @Test
    void aReadonlyRouteRunsOnTheReplicaUnlessItsUserWroteLatelyOrItsSessionIsNewer() throws Exception {
        Path addons = counted();
        try (KilnProcess kiln = onPair("routed", "--addons-path=" + addons, "-i", "counted")) {
            kiln.awaitReady();
            pair.awaitCaughtUp();
            pair.psql(pair.standbyPort, "SELECT pg_wal_replay_pause()");
            String cookie = kiln.login("routed");
            // the session exists on the primary only: the route reads there rather than refuse its user
            assertThat(kiln.okBody("/counted/names?name=Mine", cookie)).isEqualTo("0 on the primary");
            pair.psql(pair.standbyPort, "SELECT pg_wal_replay_resume()");
            pair.awaitCaughtUp();
            assertThat(kiln.okBody("/counted/names?name=Mine", cookie)).isEqualTo("0 on the replica");

            pair.psql(pair.standbyPort, "SELECT pg_wal_replay_pause()");
            assertThat(kiln.okBody("/counted/add?name=Mine", cookie)).isEqualTo("added");
            // the user's own write, not replayed yet: read on the primary, so it does not disappear
            assertThat(kiln.okBody("/counted/names?name=Mine", cookie)).isEqualTo("1 on the primary");
            assertThat(kiln.okBody("/counted/tally?db=routed", null)).isEqualTo("tallied on the primary");
            // the warning is written by the log's writer thread, a moment after the answer: wait for it, then count
            String retried = "routed: GET /counted/tally wrote in a read-only transaction \\(on the replica\\); run again on the primary";
            kiln.awaitLog(retried, 1);
            assertThat(kiln.count(retried)).isEqualTo(1);
            pair.psql(pair.standbyPort, "SELECT pg_wal_replay_resume()");
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(kiln.okBody("/counted/names?name=Mine", cookie)).isEqualTo("1 on the replica"));
            assertThat(pair.psql(pair.primaryPort, "routed", "SELECT count(*) FROM counted_search").strip())
                    .as("the read-only route that wrote, once, on the primary").isEqualTo("1");
            assertThat(kiln.log()).doesNotContain("\tat ");
        }
    }



    @Test
    void aReplicaThatCannotBeReachedWithoutALagGuardIsSaidOnceAndItsReadsAreRefusedCleanly() throws Exception {
        Path addons = counted();
        int closed = KilnProcess.freePort();
        try (KilnProcess kiln = KilnProcess.start(Files.createTempDirectory(dir, "kiln"), "--db_host=127.0.0.1",
                "--db_port=" + pair.primaryPort, "--db_replica_host=127.0.0.1", "--db_replica_port=" + closed,
                "--db_user=kiln", "-d", "unwatched", "--max-cron-threads=0", "--addons-path=" + addons, "-i", "counted")) {
            kiln.awaitReady();
            String cannot = "replica: cannot be reached \\(.+\\): read-only work sent there fails until it answers"
                    + " \\(db_replica_max_lag would send it to the primary meanwhile\\)";
            kiln.awaitLog(cannot, 1);
            String cookie = kiln.login("unwatched");
            // Odoo's rule without a guard: the replica stays in use, and a read there gets a clean 503
            assertThat(kiln.request("GET", "/counted/names?name=Mine", null, "Cookie: " + cookie)).startsWith("HTTP/1.1 503 ");
            assertThat(kiln.okBody("/counted/add?name=Mine", cookie)).as("writes go to the primary").isEqualTo("added");
            assertThat(kiln.request("GET", "/counted/names?name=Mine", null, "Cookie: " + cookie)).startsWith("HTTP/1.1 503 ");
            assertThat(kiln.count(cannot)).as("said once, though the watch looks every second").isEqualTo(1);
            assertThat(kiln.log()).doesNotContain("\tat ");
        }
    }

    @Test
    void devReplicaRunsReadOnlyMethodsInAReadOnlyTransactionOnThePrimary() throws Exception {
        Path addons = counted();
        try (CronHarness database = CronHarness.shared(dir, "devreplica", addons, "base,counted")) {
            KilnProcess kiln = database.serve("--addons-path=" + addons, "--dev=replica", "--max-cron-threads=0");
            String url = "http://127.0.0.1:" + kiln.port();
            String made = Commands.python(dir, CLIENT, url, database.db, "create", "Dev").strip();
            assertThat(Commands.python(dir, CLIENT, url, database.db, "find", "Dev", made)).isEqualTo("1 1 1\n");
            assertThat(kiln.log()).contains("res.partner.search wrote in a read-only transaction (--dev=replica); run again"
                    + " on the primary").doesNotContain("res.partner.read wrote");
        }
    }
}
