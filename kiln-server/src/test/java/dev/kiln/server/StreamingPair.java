package dev.kiln.server;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A PostgreSQL primary and its streaming standby, Debian's {@code postgresql-15} server (the
 * embedded bundle has no {@code pg_basebackup}): {@code initdb}, the primary started, a role
 * {@code kiln} that may create databases, {@code pg_basebackup -R} into the standby, the standby
 * started. Run as the {@code postgres} user when the test is root (PostgreSQL refuses root), on
 * loopback ports of their own, trusted there; stopped and removed by {@link #close}.
 */
final class StreamingPair implements AutoCloseable {

    private static final Path BIN = Path.of("/usr/lib/postgresql/15/bin");

    final Path root;
    final Path primary;
    final Path standby;
    final int primaryPort;
    final int standbyPort;

    private StreamingPair(Path root, int primaryPort, int standbyPort) {
        this.root = root;
        this.primary = root.resolve("primary");
        this.standby = root.resolve("standby");
        this.primaryPort = primaryPort;
        this.standbyPort = standbyPort;
    }

    static StreamingPair start() throws Exception {
        return start(false);
    }

    /**
     * @param synchronous every commit on the primary waits until the standby has it ({@code
     *                    synchronous_standby_names = '*'}, set on the primary alone, so that the promoted
     *                    standby does not wait for a standby of its own): a failover then loses no commit
     */
    static StreamingPair start(boolean synchronous) throws Exception {
        assertThat(BIN.resolve("pg_basebackup")).as("Debian's postgresql-15 (.ci/run installs it)").isExecutable();
        Path root = Files.createTempDirectory(Path.of("/tmp"), "kiln-pair");
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        StreamingPair pair = new StreamingPair(root, KilnProcess.freePort(), KilnProcess.freePort());
        try {
            pair.init();
            if (synchronous) {
                pair.psql(pair.primaryPort, "ALTER SYSTEM SET synchronous_standby_names = '*'");
                pair.psql(pair.primaryPort, "SELECT pg_reload_conf()");
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> "sync".equals(
                        pair.psql(pair.primaryPort, "SELECT string_agg(sync_state, ',') FROM pg_stat_replication").strip()));
            }
            return pair;
        } catch (Exception | Error e) {
            pair.close();
            throw e;
        }
    }

    private void init() throws Exception {
        if (root()) {
            UserPrincipalLookupService users = FileSystems.getDefault().getUserPrincipalLookupService();
            Files.setOwner(root, users.lookupPrincipalByName("postgres"));
        }
        asPostgres(BIN.resolve("initdb").toString(), "-D", primary.toString(), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                "--locale=C", "--no-sync");
        Files.writeString(primary.resolve("postgresql.conf"), String.join("\n",
                "listen_addresses = '127.0.0.1'",
                "port = " + primaryPort,
                "unix_socket_directories = ''",
                "wal_level = replica",
                "max_wal_senders = 5",
                "hot_standby = on",
                "fsync = off",
                "max_connections = 100",
                ""), java.nio.file.StandardOpenOption.APPEND);
        pgCtl(primary, "start");
        psql(primaryPort, "CREATE ROLE kiln LOGIN CREATEDB");
        asPostgres(BIN.resolve("pg_basebackup").toString(), "-h", "127.0.0.1", "-p", Integer.toString(primaryPort), "-U",
                "postgres", "-D", standby.toString(), "-R", "-X", "stream", "--no-sync");
        Files.writeString(standby.resolve("postgresql.auto.conf"), "port = " + standbyPort + "\n",
                java.nio.file.StandardOpenOption.APPEND);
        pgCtl(standby, "start");
    }

    /** {@code host:port,host:port} of the two, primary first: Kiln's {@code db_host}. */
    String hosts() {
        return "127.0.0.1:" + primaryPort + ",127.0.0.1:" + standbyPort;
    }

    /** Waits until the standby has replayed everything the primary has written so far. */
    void awaitCaughtUp() throws Exception {
        String written = psql(primaryPort, "SELECT pg_current_wal_lsn()").strip();
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> "t".equals(
                psql(standbyPort, "SELECT pg_last_wal_replay_lsn() >= '" + written + "'::pg_lsn").strip()));
    }

    /** The standby replays again if a test paused it (and is still a standby). */
    void resumeReplay() throws Exception {
        psql(standbyPort, "SELECT pg_wal_replay_resume() WHERE pg_is_in_recovery() AND pg_is_wal_replay_paused()");
    }

    /** The primary dies ({@code immediate}: no shutdown checkpoint, as a crash) and the standby is promoted. */
    void failOver() throws Exception {
        pgCtl(primary, "stop", "-m", "immediate");
        pgCtl(standby, "promote");
    }

    /** {@code sql} on the server at {@code port}, database {@code postgres}, as the superuser: its unaligned output. */
    String psql(int port, String sql) throws Exception {
        return psql(port, "postgres", sql);
    }

    String psql(int port, String database, String sql) throws Exception {
        return asPostgres(BIN.resolve("psql").toString(), "-h", "127.0.0.1", "-p", Integer.toString(port), "-U", "postgres",
                "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql);
    }

    private void pgCtl(Path data, String... action) throws Exception {
        List<String> command = new ArrayList<>(List.of(BIN.resolve("pg_ctl").toString(), "-D", data.toString(), "-w", "-t", "60",
                "-l", data.resolveSibling(data.getFileName() + ".log").toString()));
        command.addAll(List.of(action));
        asPostgres(command.toArray(String[]::new));
    }

    private String asPostgres(String... command) throws Exception {
        List<String> full = new ArrayList<>();
        if (root()) {
            full.addAll(List.of("/usr/sbin/runuser", "-u", "postgres", "--"));
        }
        full.addAll(List.of(command));
        return Commands.run(root, Duration.ofMinutes(2), true, full);
    }

    private static boolean root() {
        return "root".equals(System.getProperty("user.name"));
    }

    @Override
    public void close() throws Exception {
        for (Path data : List.of(standby, primary)) {
            if (Files.exists(data.resolve("postmaster.pid"))) {
                try {
                    pgCtl(data, "stop", "-m", "fast");
                } catch (Exception | AssertionError e) {
                    // stopped already, or never started
                }
            }
        }
        if (Files.exists(root)) {
            try (Stream<Path> walk = Files.walk(root)) {
                for (Path path : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(path);
                }
            } catch (IOException e) {
                // a leftover in /tmp, named kiln-pair*
            }
        }
    }
}
