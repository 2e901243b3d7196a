package dev.kiln.db;

import dev.kiln.db.DatabaseException.Reason;
import dev.kiln.os.Libc;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The embedded PostgreSQL of one data dir: {@code <data_dir>/postgres-15} holds the cluster (made by
 * initdb on first use, never wiped), {@code postgres-15.lock} beside it is held (fcntl lock) by the
 * one Kiln process that owns the server, and {@code postgres-15.port} says where it listens and which
 * Kiln owns it.
 *
 * <p>Contract: one postmaster per data dir. The process that gets the lock owns the server: it
 * starts it (or adopts the postmaster a previous Kiln of the same pid left running across an
 * in-place restart) and stops it in {@link #close()}. Any other process, or a second start in the
 * same JVM, attaches: it uses the running server once the port file names a live owner whose port
 * answers, and never stops it. The server's own log goes to {@code postgres-15.log} beside the data. A postmaster whose owner died is stopped (fast shutdown) before a new
 * one starts, so two postmasters never share the data.
 *
 * <p>The owner also keeps its postmaster running: when it dies (a {@code kill -9}, the OOM killer),
 * {@link PostmasterSupervisor} starts it again on the same port, and the processes that attach
 * simply reconnect. {@link #close()} ends that watch before it stops the server, so that a stop is
 * never taken for a death, and stops whichever postmaster runs by then.
 */
final class EmbeddedServer implements AutoCloseable {

    static final int MAJOR = 15;
    static final String SUPERUSER = "postgres";
    private static final String FOLDER = "postgres-" + MAJOR;
    private static final int SIGINT = 2;
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedServer.class);

    /** Lock files this JVM holds: a second fcntl lock on them from this JVM would drop the first on close. */
    private static final Set<Path> HELD_HERE = ConcurrentHashMap.newKeySet();

    private final Path pgData;
    private final int port;
    private final boolean owner;
    private final Path lockPath;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final EmbeddedPostgres started;
    private final PostmasterSupervisor supervisor;
    private final AtomicBoolean closing = new AtomicBoolean();

    private EmbeddedServer(Path pgData, int port, boolean owner, Path lockPath, FileChannel lockChannel,
                           FileLock lock, EmbeddedPostgres started, PostmasterSupervisor supervisor) {
        this.pgData = pgData;
        this.port = port;
        this.owner = owner;
        this.lockPath = lockPath;
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.started = started;
        this.supervisor = supervisor;
    }

    /** Starts, adopts or attaches to the embedded PostgreSQL of {@code dataDir} within {@code timeout}. */
    static EmbeddedServer open(Path dataDir, Duration timeout) {
        Path root = dataDir.toAbsolutePath().normalize();
        Path lockPath = root.resolve(FOLDER + ".lock");
        try {
            Files.createDirectories(root);
            if (!HELD_HERE.add(lockPath)) {
                return attach(root, timeout);
            }
            FileChannel channel = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                channel.close();
                HELD_HERE.remove(lockPath);
                return attach(root, timeout);
            }
            try {
                return own(root, lockPath, channel, lock, timeout);
            } catch (RuntimeException | IOException e) {
                lock.release();
                channel.close();
                HELD_HERE.remove(lockPath);
                throw e;
            }
        } catch (IOException e) {
            throw new DatabaseException(Reason.UNREACHABLE, "cannot start the embedded PostgreSQL in "
                    + root.resolve(FOLDER) + ": " + e.getMessage(), e);
        }
    }

    int port() {
        return port;
    }

    /** Whether this process owns (and will stop) the server, rather than using another process's. */
    boolean owner() {
        return owner;
    }

    Path pgData() {
        return pgData;
    }

    PgAddress address() {
        return new PgAddress("localhost", port, SUPERUSER, null, "disable");
    }

    /** The watch that restarts the postmaster this process owns; null when it does not own the server. */
    PostmasterSupervisor supervisor() {
        return supervisor;
    }

    /**
     * Stops the server if this process owns it (the postmaster running now, first started or
     * restarted, by a fast shutdown), then lets go of the data dir. Ending the watch first may wait
     * for a restart under way; none happens after.
     */
    @Override
    public void close() {
        if (!owner || !closing.compareAndSet(false, true)) {
            return;
        }
        try {
            if (supervisor != null) {
                supervisor.close();
            }
            livePostmaster(pgData).ifPresent(postmaster -> stopPostmaster(postmaster.pid()));
        } catch (RuntimeException e) {
            LOG.warn("embedded PostgreSQL in {} did not stop cleanly: {}", pgData, e.getMessage());
        } finally {
            closeLibrary();
            try {
                lock.release();
                lockChannel.close();
            } catch (IOException ignored) {
                // The lock goes with the process anyway.
            }
            HELD_HERE.remove(lockPath);
        }
    }

    /**
     * Makes the library let go of its own lock in the data folder, which a later start in this JVM
     * takes again. Its close also runs {@code pg_ctl stop}, which finds the server stopped already
     * (and says so only at a level Kiln's log does not show).
     */
    private void closeLibrary() {
        if (started == null) {
            return;
        }
        try {
            started.close();
        } catch (IOException | RuntimeException e) {
            LOG.debug("embedded PostgreSQL in {}: closing the library: {}", pgData, e.toString());
        }
    }

    private static EmbeddedServer own(Path root, Path lockPath, FileChannel channel, FileLock lock, Duration timeout)
            throws IOException {
        Path pgData = root.resolve(FOLDER);
        Path portFile = root.resolve(FOLDER + ".port");
        checkCluster(pgData);
        Optional<RunInfo> previous = RunInfo.read(portFile);
        Optional<ProcessHandle> running = livePostmaster(pgData);
        if (running.isPresent()) {
            if (previous.isPresent() && answers(previous.get().port)) {
                // Left by this very pid before an in-place restart (execve), or by a Kiln that died: adopt it.
                LOG.info("embedded PostgreSQL in {}: adopting the running server (pid {}) on port {}",
                        pgData, running.get().pid(), previous.get().port);
                RunInfo.write(portFile, previous.get().port);
                return new EmbeddedServer(pgData, previous.get().port, true, lockPath, channel, lock, null,
                        supervise(pgData, previous.get().port, running.get()));
            }
            LOG.warn("embedded PostgreSQL in {}: stopping a postmaster (pid {}) whose owner is gone",
                    pgData, running.get().pid());
            stopPostmaster(running.get().pid());
        }
        int port = previous.map(RunInfo::port).filter(EmbeddedServer::isFree).orElseGet(EmbeddedServer::freePort);
        Path logFile = root.resolve(FOLDER + ".log");
        long begin = System.nanoTime();
        boolean cold = !Files.exists(pgData.resolve("PG_VERSION"));
        EmbeddedPostgres postgres;
        EmbeddedBinaries binaries = EmbeddedBinaries.in(binariesFolder(root));
        try {
            postgres = EmbeddedPostgres.builder()
                    .setDataDirectory(pgData)
                    .setCleanDataDirectory(false)
                    .setRegisterShutdownHook(false)
                    .setOverrideWorkingDirectory(binaries.folder().toFile())
                    .setPgBinaryResolver(binaries)
                    .setPort(port)
                    .setPGStartupWait(timeout)
                    .setOutputRedirector(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                    .setErrorRedirector(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                    .setLocaleConfig("locale", "C")
                    // The library favours speed for tests; Kiln keeps committed data across a crash.
                    .setServerConfig("synchronous_commit", "on")
                    .setServerConfig("listen_addresses", "localhost")
                    .setServerConfig("unix_socket_directories", "''")
                    .start();
        } catch (IOException | RuntimeException | Error e) {
            throw new DatabaseException(Reason.UNREACHABLE, "the embedded PostgreSQL in " + pgData
                    + " did not start: " + SqlErrors.firstLine(rootCause(e)) + "; see " + logFile + unshareHint(), e);
        }
        binaries.remember();
        restrictToOwner(binaries.folder());
        RunInfo.write(portFile, port);
        LOG.info("embedded PostgreSQL {} in {} listening on localhost:{} ({} start, {} ms)", MAJOR, pgData, port,
                cold ? "first" : "warm", (System.nanoTime() - begin) / 1_000_000);
        Optional<ProcessHandle> postmaster = livePostmaster(pgData);
        if (postmaster.isEmpty()) {
            LOG.warn("embedded PostgreSQL in {}: no postmaster named in {}; it will not be restarted if it dies",
                    pgData, pgData.resolve("postmaster.pid"));
        }
        return new EmbeddedServer(pgData, port, true, lockPath, channel, lock, postgres,
                postmaster.map(p -> supervise(pgData, port, p)).orElse(null));
    }

    /** The watch of {@code postmaster}, which also writes the port file again after each restart. */
    private static PostmasterSupervisor supervise(Path pgData, int port, ProcessHandle postmaster) {
        Path root = pgData.getParent();
        return PostmasterSupervisor.watch(pgData, port, root.resolve(FOLDER + ".log"), postmaster, () -> {
            try {
                RunInfo.write(root.resolve(FOLDER + ".port"), port);
            } catch (IOException e) {
                LOG.warn("embedded PostgreSQL in {}: cannot write {}: {}", pgData, root.resolve(FOLDER + ".port"), e.toString());
            }
        });
    }

    private static EmbeddedServer attach(Path root, Duration timeout) {
        Path pgData = root.resolve(FOLDER);
        Path portFile = root.resolve(FOLDER + ".port");
        long deadline = System.nanoTime() + timeout.toNanos();
        Optional<RunInfo> info;
        do {
            info = RunInfo.read(portFile);
            if (info.isPresent() && ProcessHandle.of(info.get().ownerPid).map(ProcessHandle::isAlive).orElse(false)
                    && answers(info.get().port)) {
                LOG.info("embedded PostgreSQL in {}: using the server of Kiln pid {} on port {}",
                        pgData, info.get().ownerPid, info.get().port);
                return new EmbeddedServer(pgData, info.get().port, false, null, null, null, null, null);
            }
            sleep(100);
        } while (System.nanoTime() < deadline);
        throw new DatabaseException(Reason.UNREACHABLE, "the embedded PostgreSQL in " + pgData
                + " belongs to another Kiln process" + info.map(i -> " (pid " + i.ownerPid + ")").orElse("")
                + " and did not answer within " + timeout.toSeconds() + " s: stop that process, or give this one"
                + " another --data-dir or --db_host");
    }

    /** A data folder left half-made (initdb killed) or of another major would be misread: refuse it. */
    private static void checkCluster(Path pgData) throws IOException {
        if (!Files.isDirectory(pgData)) {
            return;
        }
        Path version = pgData.resolve("PG_VERSION");
        if (Files.exists(version)) {
            String major = Files.readString(version).strip();
            if (!major.equals(Integer.toString(MAJOR))) {
                throw new DatabaseException(Reason.FAILED, "the embedded PostgreSQL data in " + pgData
                        + " is of PostgreSQL " + major + ", Kiln embeds " + MAJOR + ": dump it with that version's"
                        + " pg_dump and restore it, or use --db_host");
            }
            if (!Files.exists(pgData.resolve("postgresql.conf"))) {
                throw new DatabaseException(Reason.FAILED, "the embedded PostgreSQL data in " + pgData
                        + " has no postgresql.conf: restore it from a backup, or move the folder away to start anew");
            }
            return;
        }
        try (var entries = Files.list(pgData)) {
            if (entries.findAny().isPresent()) {
                throw new DatabaseException(Reason.FAILED, "the embedded PostgreSQL data in " + pgData
                        + " is incomplete (was its first start interrupted?): move the folder away to start anew");
            }
        }
    }

    private static Optional<Long> postmasterPid(Path pgData) {
        try {
            return Files.readAllLines(pgData.resolve("postmaster.pid")).stream().findFirst()
                    .map(String::strip).map(Long::parseLong);
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** The postmaster {@code postmaster.pid} names, while it runs. */
    static Optional<ProcessHandle> livePostmaster(Path pgData) {
        return postmasterPid(pgData).flatMap(ProcessHandle::of).filter(ProcessHandle::isAlive)
                .filter(p -> p.info().command().map(c -> c.endsWith("/postgres")).orElse(true));
    }

    /** Fast shutdown (SIGINT): sessions are ended, committed data is safe; waits up to 10 s. */
    private static void stopPostmaster(long pid) {
        Optional<ProcessHandle> process = ProcessHandle.of(pid);
        if (process.isEmpty()) {
            return;
        }
        try {
            Libc.kill((int) pid, SIGINT);
        } catch (RuntimeException e) {
            if (!process.get().isAlive()) {
                return;
            }
            throw new DatabaseException(Reason.FAILED, "cannot stop the embedded PostgreSQL (pid " + pid + "): "
                    + e.getMessage(), e);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (process.get().isAlive() && System.nanoTime() < deadline) {
            sleep(50);
        }
        if (process.get().isAlive()) {
            throw new DatabaseException(Reason.FAILED, "the embedded PostgreSQL (pid " + pid
                    + ") did not stop within 10 s after SIGINT");
        }
    }

    /** Whether PostgreSQL answers SELECT 1 on localhost:port within 2 s. */
    static boolean answers(int port) {
        Properties properties = new Properties();
        properties.setProperty("user", SUPERUSER);
        properties.setProperty("connectTimeout", "2");
        properties.setProperty("loginTimeout", "2");
        properties.setProperty("sslmode", "disable");
        try (Connection connection = DriverManager.getConnection(
                "jdbc:postgresql://localhost:" + port + "/postgres", properties)) {
            return connection.createStatement().execute("SELECT 1");
        } catch (SQLException e) {
            return false;
        }
    }

    /**
     * Where the PostgreSQL binaries are unpacked (once, ~30 MB, one folder per build): the user's
     * cache ({@code $XDG_CACHE_HOME/kiln}, else {@code $HOME/.cache/kiln}) rather than /tmp, which may
     * be mounted noexec or swept while the server runs; beside the data when there is no usable cache.
     */
    static Path binariesFolder(Path root) {
        String xdg = System.getenv("XDG_CACHE_HOME");
        String home = System.getenv("HOME");
        Path cache = xdg != null && !xdg.isBlank() ? Path.of(xdg)
                : Path.of(home != null && !home.isBlank() ? home : System.getProperty("user.home"), ".cache");
        Path folder = cache.resolve("kiln").resolve("embedded-postgres");
        try {
            Files.createDirectories(folder);
            if (Files.isWritable(folder)) {
                return folder;
            }
        } catch (IOException | RuntimeException e) {
            // No usable cache: fall through to the data dir.
        }
        return root.resolve(FOLDER + "-bin");
    }

    /** The library leaves its unpack folder world-writable; nobody else should be able to swap binaries there. */
    private static void restrictToOwner(Path folder) {
        try {
            Files.setPosixFilePermissions(folder, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot restrict {} to its owner: {}", folder, e.toString());
        }
    }

    private static boolean isFree(int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String unshareHint() {
        boolean root = "root".equals(System.getProperty("user.name"));
        return root ? " (as root PostgreSQL runs through `unshare -U`: util-linux must be installed and user"
                + " namespaces allowed)" : "";
    }

    private static Throwable rootCause(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DatabaseException(Reason.UNREACHABLE, "interrupted while waiting for the embedded PostgreSQL");
        }
    }

    /** The port file: where the server listens and which Kiln process owns it. */
    private record RunInfo(int port, long ownerPid) {

        static Optional<RunInfo> read(Path file) {
            try {
                Properties properties = new Properties();
                try (var reader = Files.newBufferedReader(file)) {
                    properties.load(reader);
                }
                return Optional.of(new RunInfo(Integer.parseInt(properties.getProperty("port")),
                        Long.parseLong(properties.getProperty("pid"))));
            } catch (IOException | RuntimeException e) {
                return Optional.empty();
            }
        }

        static void write(Path file, int port) throws IOException {
            Path temp = Files.createTempFile(file.getParent(), ".postgres-port", ".tmp");
            Files.writeString(temp, "# the embedded PostgreSQL of this data dir and the Kiln process that owns it\n"
                    + "port=" + port + "\npid=" + ProcessHandle.current().pid() + "\n");
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
