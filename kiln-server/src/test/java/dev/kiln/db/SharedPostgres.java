package dev.kiln.db;

import java.nio.file.Path;

/**
 * The embedded PostgreSQL the tests of one test JVM share, on the data dir {@code kiln.test.data}
 * names (one per fork): started here once, at first use, and stopped when this JVM exits (the
 * shutdown hook every {@link Postgres} registers).
 *
 * <p>Why this JVM owns it: a kiln process started on a data dir whose server another live process
 * owns attaches to it, so the hundreds of kiln processes the tests start each skip a warm start
 * (about half a second) and the shutdown checkpoint of their own stop (one to two seconds once
 * databases were created). Tests that need a server of their own (killing the postmaster, an outage,
 * a first start, adoption across an in-place restart) give their process a data dir of their own.
 */
public final class SharedPostgres {

    private static Postgres server;

    private SharedPostgres() {
    }

    /** The shared data dir, its server running (started by this call when it is the first). */
    public static synchronized Path dataDir() {
        Path dir = Path.of(System.getProperty("kiln.test.data", "target/kiln-test-data")).toAbsolutePath();
        if (server == null) {
            Postgres started = Postgres.startEmbedded(dir);
            started.await(Postgres.START_TIMEOUT.multipliedBy(3));     // a first start runs initdb, on a loaded machine
            server = started;
        }
        return dir;
    }

    /** The port the shared server listens on (localhost, superuser {@code postgres}). */
    public static int port() {
        dataDir();
        return server.await().port();
    }

    /** A handle on the shared server, attached (its close stops nothing); the caller closes it. */
    public static Postgres attach() {
        return Postgres.startEmbedded(dataDir());
    }
}
