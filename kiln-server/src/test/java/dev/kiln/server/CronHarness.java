package dev.kiln.server;

import dev.kiln.db.SharedPostgres;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.IntSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the cron process tests share: one database of their own on a PostgreSQL server, the Kiln
 * processes serving it, and plain JDBC to look at (and push) the job tables from outside.
 *
 * <p>On the shared embedded server of the test data dir, {@link #shared} first starts an anchor
 * Kiln with no cron runner: it owns (or attaches to) the embedded PostgreSQL, so the processes a
 * test starts, kills or stops are never the one whose exit would stop the server under the others.
 * {@link #close} stops the processes, drops the database, then stops the anchor.
 */
final class CronHarness implements AutoCloseable {

    final String db;
    private final Path dir;
    private final IntSupplier port;
    private final List<String> baseArgs;
    private final List<KilnProcess> processes = new ArrayList<>();
    private KilnProcess anchor;

    private CronHarness(Path dir, String db, IntSupplier port, List<String> baseArgs) {
        this.dir = dir;
        this.db = db;
        this.port = port;
        this.baseArgs = baseArgs;
    }

    /**
     * A new database {@code <prefix>_<random>} on the shared embedded server, with {@code install}
     * (comma-separated) installed from the bundled addons plus {@code addonsPath} (may be null).
     */
    static CronHarness shared(Path dir, String prefix, Path addonsPath, String install) throws Exception {
        List<String> base = new ArrayList<>();
        if (addonsPath != null) {
            base.add("--addons-path=" + addonsPath);
        }
        CronHarness harness = new CronHarness(dir, unique(prefix), CronHarness::sharedPort, List.copyOf(base));
        harness.anchor = KilnProcess.start(Files.createTempDirectory(dir, "anchor"), "--max-cron-threads", "0");
        harness.init(install);
        return harness;
    }

    /** A new database on a server this test runs itself (port {@code port}), reached as an external one. */
    static CronHarness external(Path dir, String prefix, int port, List<String> serverArgs, String install) throws Exception {
        CronHarness harness = new CronHarness(dir, unique(prefix), () -> port, List.copyOf(serverArgs));
        harness.init(install);
        return harness;
    }

    /**
     * Writes the test addon {@code name} (its entry class {@code entry} compiled from {@code source},
     * depending on base, and one migration {@code file} of {@code sql}) into {@code dir/addons};
     * returns that addons folder.
     */
    static Path addon(Path dir, String name, String entry, String source, String file, String sql) throws java.io.IOException {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        Path addon = dev.kiln.addons.TestAddons.addon(addons, name, dev.kiln.addons.TestAddons.manifest(entry, "base"),
                java.util.Map.of(entry, source));
        Files.createDirectories(addon.resolve("migrations"));
        Files.writeString(addon.resolve("migrations").resolve(file), sql);
        return addons;
    }

    /**
     * SQL condition on {@code pg_stat_activity}: the sessions of Kiln's notification listeners (one
     * per process) listening on {@code channel}. A listener LISTENs on all its channels in one
     * statement, which stays its {@code query} while it waits.
     */
    static String listenerOn(String channel) {
        return "datname = 'postgres' AND query LIKE 'DO ''BEGIN %LISTEN " + channel + ";%'";
    }

    static String unique(String prefix) {
        return prefix + "_" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** The port of the shared embedded server. */
    static int sharedPort() {
        return SharedPostgres.port();
    }

    private void init(String install) throws Exception {
        List<String> args = new ArrayList<>(baseArgs);
        args.addAll(List.of("-d", db, "-i", install, "--stop-after-init"));
        try (KilnProcess init = KilnProcess.launch(Files.createTempDirectory(dir, "init"), List.of(), args.toArray(String[]::new))) {
            assertThat(init.awaitExit(Duration.ofSeconds(90))).as(init.log()).isZero();
        }
    }

    /** Starts a Kiln serving this database ({@code -d db}) with {@code args}, and waits until its runners started. */
    KilnProcess serve(String... args) throws Exception {
        return serveWithJvm(List.of(), args);
    }

    /** {@link #serve} with {@code jvm} options (system properties) for this process alone. */
    KilnProcess serveWithJvm(List<String> jvm, String... args) throws Exception {
        KilnProcess kiln = KilnProcess.startWithJvm(Files.createTempDirectory(dir, "kiln"), jvm, withDatabase(args));
        processes.add(kiln);
        return kiln;
    }

    /**
     * Starts a prefork Kiln for this database with {@code workers} HTTP workers and {@code args},
     * and waits until they and the evented worker are ready.
     */
    KilnProcess servePrefork(int workers, String... args) throws Exception {
        KilnProcess kiln = KilnProcess.launch(Files.createTempDirectory(dir, "prefork"), List.of(),
                withDatabase(java.util.stream.Stream.concat(java.util.stream.Stream.of("--workers=" + workers),
                        java.util.Arrays.stream(args)).toArray(String[]::new)));
        processes.add(kiln);
        kiln.awaitHttpWorkers(workers, 1);
        kiln.awaitReadyWorkers("evented", 1);
        return kiln;
    }

    /** Starts {@code kiln evented} for this database ({@code -d db}) with {@code args}, and waits until it serves. */
    KilnProcess serveEvented(String... args) throws Exception {
        KilnProcess kiln = KilnProcess.startEvented(Files.createTempDirectory(dir, "evented"), withDatabase(args));
        processes.add(kiln);
        return kiln;
    }

    /** The harness's options, {@code -d db}, then {@code args}. */
    private String[] withDatabase(String... args) {
        List<String> all = new ArrayList<>(baseArgs);
        all.addAll(List.of("-d", db));
        all.addAll(List.of(args));
        return all.toArray(String[]::new);
    }

    /** A connection to this database (autocommit), to close. */
    Connection connect() throws SQLException {
        return connect(db);
    }

    Connection connect(String database) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://localhost:" + port.getAsInt() + "/" + database, "postgres", "");
    }

    /** The first column of the first row of {@code sql} on this database, as text. */
    String query(String sql) throws SQLException {
        try (Connection connection = connect(); Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery(sql)) {
            return row.next() ? row.getString(1) : null;
        }
    }

    long count(String sql) throws SQLException {
        return Long.parseLong(query(sql));
    }

    void execute(String sql) throws SQLException {
        try (Connection connection = connect(); Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

    /**
     * Whether a runner holds the job {@code name}: the test's own claim of it ({@code FOR NO KEY UPDATE
     * NOWAIT}, rolled back at once) fails with 55P03 then.
     */
    boolean claimed(String name) throws SQLException {
        try (Connection connection = connect()) {
            connection.setAutoCommit(false);
            try (PreparedStatement claim = connection.prepareStatement(
                    "SELECT 1 FROM kiln_cron WHERE name = ? FOR NO KEY UPDATE NOWAIT")) {
                claim.setString(1, name);
                claim.executeQuery().close();
                return false;
            } catch (SQLException e) {
                if ("55P03".equals(e.getSQLState())) {
                    return true;
                }
                throw e;
            } finally {
                connection.rollback();
            }
        }
    }

    /** Wakes every runner on the server for this database, as a commit that makes a job due does. */
    void wake() throws SQLException {
        try (Connection connection = connect("postgres");
             PreparedStatement notify = connection.prepareStatement("SELECT pg_notify('kiln_cron', ?)")) {
            notify.setString(1, db);
            notify.execute();
        }
    }

    /** Every log line of {@code kiln} that matches {@code regex} somewhere. */
    static long lines(KilnProcess kiln, String regex) {
        java.util.regex.Pattern pattern = java.util.regex.Pattern.compile(regex);
        return kiln.log().lines().filter(line -> pattern.matcher(line).find()).count();
    }

    @Override
    public void close() throws Exception {
        Exception failure = null;
        for (KilnProcess kiln : processes.reversed()) {
            try {
                kiln.close();
            } catch (Exception e) {
                failure = failure == null ? e : failure;
            }
        }
        try (Connection connection = connect("postgres"); Statement statement = connection.createStatement()) {
            statement.execute("DROP DATABASE IF EXISTS \"" + db + "\" WITH (FORCE)");
        } catch (SQLException e) {
            failure = failure == null ? e : failure;
        }
        if (anchor != null) {
            anchor.close();
        }
        if (failure != null) {
            throw failure;
        }
    }
}
