package dev.kiln.db;

import dev.kiln.config.Config;
import dev.kiln.db.DatabaseException.Reason;
import dev.kiln.failure.KilnException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The PostgreSQL server of this process: an external one ({@code db_host} set) or the embedded one
 * under {@code <data_dir>/postgres-15}. {@link #start(Config)} returns at once; the embedded server
 * starts on a background thread (about a second warm) so that HTTP can serve database-less routes
 * meanwhile. Whoever needs the server calls {@link #await()}, which returns its address or throws a
 * one-line {@link DatabaseException} (start failure or timeout). While it runs, the process that owns
 * the embedded server starts its postmaster again if it dies, on the same port; the others only
 * reconnect. {@link #close()} stops the embedded server if this process owns it; it is idempotent.
 */
public final class Postgres implements AutoCloseable {

    /** How long {@link #await()} waits for the embedded server; a first start runs initdb too. */
    public static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Logger LOG = LoggerFactory.getLogger(Postgres.class);

    private final Path dataDir;
    private final Thread shutdownHook = Thread.ofPlatform().name("kiln-postgres-stop").unstarted(this::close);
    private final CompletableFuture<PgAddress> ready = new CompletableFuture<>();
    private volatile EmbeddedServer embedded;
    /** Whether connections go as {@link KilnRole} (a server's) rather than as the embedded superuser (tools, tests). */
    private volatile boolean asKilnRole;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicBoolean starting = new AtomicBoolean();
    /** Where the notification listener connects when not where the pools do ({@code db_listen_host}); null: the same. */
    private volatile PgAddress listen;

    private Postgres(Path dataDir) {
        this.dataDir = dataDir;
    }

    /** The server {@code config} names: external when {@code db_host} is set, else embedded under data_dir. */
    public static Postgres start(Config config) {
        if (config.dbHost() != null && !config.dbHost().isBlank()) {
            PgAddress address;
            try {
                address = PgAddress.forWork(config, config.dbHost(), config.dbPort());
            } catch (IllegalArgumentException malformed) {
                throw KilnException.usage(malformed.getMessage());
            }
            Postgres postgres = external(address);
            boolean ownListenAddress = config.dbListenHost() != null && !config.dbListenHost().isBlank()
                    || config.dbListenPort() != 0;
            if (ownListenAddress) {
                postgres.listen = new PgAddress(config.dbListenHost() == null || config.dbListenHost().isBlank()
                        ? config.dbHost() : config.dbListenHost(), config.dbListenPort() == 0 ? config.dbPort()
                        : config.dbListenPort(), config.dbUser(), config.dbPassword(), config.dbSslmode());
            } else if (address.transactionPooled()) {
                throw KilnException.usage("db_pooler = transaction: LISTEN needs a session, which a pool in transaction mode"
                        + " does not keep; set db_listen_host (and db_listen_port) to PostgreSQL itself or to a session-mode pool");
            }
            return postgres;
        }
        Postgres postgres = of(config);
        postgres.startInBackground();
        return postgres;
    }

    /** An external server: nothing starts; connection errors surface when a pool first connects. */
    public static Postgres external(PgAddress address) {
        Postgres postgres = new Postgres(null);
        postgres.ready.complete(address);
        return postgres;
    }

    /** Starts (or attaches to) the embedded server of {@code dataDir} on a background thread. */
    public static Postgres startEmbedded(Path dataDir) {
        Postgres postgres = embedded(dataDir);
        postgres.startInBackground();
        return postgres;
    }

    /**
     * The embedded server of {@code dataDir}, not started yet: it starts on the first
     * {@link #startInBackground()}, {@link #ready()} or {@link #await()}.
     */
    public static Postgres embedded(Path dataDir) {
        Postgres postgres = new Postgres(dataDir);
        // A safety net for exits that skip close(); an in-place restart (execve) runs no hooks, so the
        // server survives it and the new image adopts it.
        Runtime.getRuntime().addShutdownHook(postgres.shutdownHook);
        return postgres;
    }

    /**
     * The server {@code config} names, the embedded one not started yet (see {@link #embedded}); a
     * server connects to the embedded one as the role {@code kiln}, never as its superuser.
     */
    public static Postgres of(Config config) {
        if (config.dbHost() != null && !config.dbHost().isBlank()) {
            return start(config);
        }
        if (config.dataDir() == null) {
            throw KilnException.usage("data_dir must be set to use the embedded PostgreSQL (or set db_host)");
        }
        Postgres postgres = embedded(config.dataDir());
        postgres.asKilnRole = true;
        return postgres;
    }

    /** Starts the embedded server on a background thread, once; nothing for an external server. */
    public void startInBackground() {
        if (dataDir != null && starting.compareAndSet(false, true)) {
            Thread.ofPlatform().name("kiln-postgres-start").daemon().start(this::startNow);
        }
    }

    /**
     * The address of the notification listener's connection: {@code db_listen_host}/{@code
     * db_listen_port} when set, else the server's (waiting like {@link #await()}).
     */
    public PgAddress listenAddress() {
        PgAddress own = listen;
        return own != null ? own : await();
    }

    /** Completes with the server's address once it answers, or exceptionally with a DatabaseException. */
    public CompletableFuture<PgAddress> ready() {
        startInBackground();
        return ready.copy();
    }

    /** The server's address, waiting up to {@link #START_TIMEOUT} for the embedded one. */
    public PgAddress await() {
        return await(START_TIMEOUT);
    }

    /** The server's address, waiting up to {@code timeout}; a failed or late start throws one line. */
    public PgAddress await(Duration timeout) {
        startInBackground();
        try {
            return ready.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof DatabaseException d ? d
                    : new DatabaseException(Reason.UNREACHABLE, "PostgreSQL did not start: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new DatabaseException(Reason.UNREACHABLE, "the embedded PostgreSQL in " + dataDir
                    + " did not start within " + timeout.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DatabaseException(Reason.UNREACHABLE, "interrupted while waiting for PostgreSQL", e);
        }
    }

    /** Whether this is the embedded server (started here or by another Kiln on the same data dir). */
    public boolean isEmbedded() {
        return dataDir != null;
    }

    /** Whether this process owns the embedded server and will stop it on close. */
    public boolean ownsServer() {
        EmbeddedServer server = embedded;
        return server != null && server.owner();
    }

    /**
     * Waits (up to {@link #START_TIMEOUT}) for a start in progress to end, without stopping what it
     * started: before an in-place restart, so that no thread of this image is opening a connection
     * while the process execs. A connection opened then would outlive the image, unseen, with
     * whatever it holds (the role set-up's advisory lock) held for good.
     */
    public void settle() {
        if (dataDir == null || !starting.get()) {
            return;
        }
        try {
            ready.get(START_TIMEOUT.toMillis() + 1_000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // A failed or late start: the next image starts again.
        }
    }

    /** Stops the embedded server if this process started it (waiting for a start in progress). */
    @Override
    public void close() {
        if (closed.getAndSet(true) || dataDir == null) {
            return;
        }
        if (starting.compareAndSet(false, true)) {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
            return;     // never started: nothing runs
        }
        if (Thread.currentThread() != shutdownHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException shuttingDown) {
                // The hook runs anyway and finds this instance closed.
            }
        }
        try {
            ready.get(START_TIMEOUT.toMillis() + 1_000, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            // A failed start left nothing running.
        }
        EmbeddedServer server = embedded;
        if (server != null) {
            server.close();
        }
    }

    private void startNow() {
        try {
            EmbeddedServer server = EmbeddedServer.open(dataDir, START_TIMEOUT);
            embedded = server;
            if (asKilnRole) {
                KilnRole.ensure(server.address());
                ready.complete(KilnRole.of(server.address()));
            } else {
                ready.complete(server.address());
            }
        } catch (DatabaseException e) {
            LOG.error(e.getMessage());
            ready.completeExceptionally(e);
        } catch (RuntimeException | Error e) {
            LOG.error("the embedded PostgreSQL in {} did not start", dataDir, e);
            ready.completeExceptionally(new DatabaseException(Reason.UNREACHABLE, "the embedded PostgreSQL in "
                    + dataDir + " did not start: " + SqlErrors.firstLine(e), e));
        }
    }
}
