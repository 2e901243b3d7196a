package dev.kiln.server;

import dev.kiln.failure.KilnException;
import dev.kiln.metrics.MergedMetrics;
import dev.kiln.server.WorkerCodec.Malformed;
import dev.kiln.server.WorkerMessage.Hello;
import dev.kiln.server.WorkerMessage.InFlight;
import dev.kiln.server.WorkerMessage.Metrics;
import dev.kiln.server.WorkerMessage.State;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * How prefork workers talk to their master, apart from their standard output (which carries only
 * what they print, an addon's lines included, and which the master logs). The master listens on a
 * Unix domain socket in a directory of its own (mode 0700, so no other user reaches it) and gives
 * each worker it starts the socket's path and a one-time token in its environment
 * ({@link #admit}); the worker connects ({@link #connect}), says {@link Hello} with its token, and
 * then sends {@link WorkerMessage}s framed by {@link WorkerCodec}.
 *
 * <p>Why a socket the worker connects to: {@code ProcessBuilder} hands a child only fds 0 to 2 (the
 * rest are closed in the child), and those are taken — fd 0 by the listening socket, 1 and 2 by the
 * worker's log output. A named pipe would need a native {@code mkfifo}, and its {@code open} blocks
 * until the other end opens too, so a worker that dies while booting would leave the master's
 * reader waiting forever. The socket needs nothing native, the master's accept waits for any worker,
 * and a worker's exit ends its connection. The token tells the master which worker a connection is
 * (the kernel says only which user is at the other end) and is taken back at first use, so a
 * second connection cannot speak for a worker.
 *
 * <p>One reader thread per connection decodes messages and only enqueues them with the time they
 * arrived ({@link #poll}); the master's loop takes every decision. A message that cannot be read is
 * logged (one warning, no stack) and dropped, and the reader reads on; it ends only with its
 * connection. The queue is unbounded: each worker sends about one message a second and the
 * master's loop empties it at least as often. Metric reports are the exception: the reader hands
 * them straight to the {@link MergedMetrics} (nothing for the loop to decide), and tells it the
 * worker is gone once its connection ended, after the last report was read.
 */
final class WorkerChannel implements AutoCloseable {

    /** The worker's environment: the socket's path, and its token. */
    static final String PATH_ENV = "KILN_CHANNEL", TOKEN_ENV = "KILN_CHANNEL_TOKEN";

    /** A message from worker {@code worker}, received at {@code nanos} ({@link System#nanoTime}). */
    record Heard(int worker, WorkerMessage message, long nanos) { }

    private record Admitted(int id, String name) { }

    private static final Logger LOG = LoggerFactory.getLogger(WorkerChannel.class);
    /** sun_path holds 108 bytes: a temporary folder with a longer name falls back to /tmp. */
    private static final int MAX_PATH = 100;
    private static final String PREFIX = "kiln-channel-", SOCKET = "workers.sock";

    private final Path dir;
    private final Path path;
    private final ServerSocketChannel server;
    private final Runnable wake;
    private final SecureRandom random = new SecureRandom();
    private final Map<String, Admitted> tokens = new ConcurrentHashMap<>();
    private final Set<SocketChannel> connections = ConcurrentHashMap.newKeySet();
    private final LinkedBlockingQueue<Heard> heard = new LinkedBlockingQueue<>();
    /** Where the workers' metric reports go; null when metrics are off. */
    private final MergedMetrics metrics;

    private WorkerChannel(Path dir, Path path, ServerSocketChannel server, Runnable wake, MergedMetrics metrics) {
        this.dir = dir;
        this.path = path;
        this.server = server;
        this.wake = wake;
        this.metrics = metrics;
        Thread.ofPlatform().daemon().name("kiln-worker-channel").start(this::accept);
    }

    /**
     * Listens in a new private directory. {@code wake} is called when a message other than a
     * state report arrives, so that the master's loop acts on it at once rather than at its next tick.
     *
     * @param metrics where metric reports go; null when metrics are off (reports are then dropped)
     */
    static WorkerChannel open(Runnable wake, MergedMetrics metrics) throws IOException {
        Path parent = Path.of(System.getProperty("java.io.tmpdir"));
        if (parent.toAbsolutePath().toString().length() > MAX_PATH - 40) {
            parent = Path.of("/tmp");
        }
        removeLeftovers(parent);
        Path dir = Files.createTempDirectory(parent, PREFIX + ProcessHandle.current().pid() + "-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path path = dir.resolve(SOCKET);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            server.bind(UnixDomainSocketAddress.of(path));
        } catch (IOException e) {
            server.close();
            Files.deleteIfExists(dir);
            throw e;
        }
        return new WorkerChannel(dir, path, server, wake, metrics);
    }

    /**
     * Removes the directories of masters that are gone (killed: a stopping master removes its own),
     * known by the pid in their name, so that they do not pile up in the temporary folder. A pid
     * reused since only leaves a directory for a later start to remove.
     */
    private static void removeLeftovers(Path parent) {
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(parent, PREFIX + "*")) {
            for (Path dir : dirs) {
                String[] name = dir.getFileName().toString().substring(PREFIX.length()).split("-", 2);
                if (name.length == 2 && name[0].matches("\\d{1,10}")
                        && ProcessHandle.of(Long.parseLong(name[0])).map(ProcessHandle::isAlive).orElse(false)) {
                    continue;
                }
                try {
                    Files.deleteIfExists(dir.resolve(SOCKET));
                    Files.deleteIfExists(dir);
                } catch (IOException e) {
                    LOG.debug("Worker channel: {} left in place: {}", dir, e.toString());   // another user's, say
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("Worker channel: leftovers in {} not looked for: {}", parent, e.toString());
        }
    }

    /**
     * A token for worker {@code id} (named {@code name} in the log): the environment entries to give
     * the worker, which presents them on {@link #connect}.
     */
    Map<String, String> admit(int id, String name) {
        byte[] secret = new byte[16];
        random.nextBytes(secret);
        String token = HexFormat.of().formatHex(secret);
        tokens.put(token, new Admitted(id, name));
        return Map.of(PATH_ENV, path.toString(), TOKEN_ENV, token);
    }

    /**
     * Takes back the token of worker {@code id} if it never used it (it died while booting); such a
     * worker never reported, so it is gone for the metrics too. A worker that connected is gone for
     * them once its connection ends.
     */
    void forget(int id) {
        if (tokens.values().removeIf(admitted -> admitted.id() == id) && metrics != null) {
            metrics.gone(id);
        }
    }

    /** The oldest message not yet taken, or null. */
    Heard poll() {
        return heard.poll();
    }

    private void accept() {
        boolean failing = false;
        while (server.isOpen()) {
            try {
                SocketChannel connection = server.accept();
                connections.add(connection);
                if (!server.isOpen()) {
                    connection.close();       // accepted while close() ended the others: ended here
                    break;
                }
                Thread.ofPlatform().daemon().name("kiln-worker-channel-reader").start(() -> read(connection));
                failing = false;
            } catch (IOException | RuntimeException e) {
                if (server.isOpen()) {
                    if (!failing) {           // once per outage (out of fds, say), not ten lines a second
                        LOG.warn("Worker channel: accepting a worker's connection failed ({}); accepting on", e.toString());
                        failing = true;
                    }
                    pause();
                }
            }
        }
    }

    /** Reads one worker's messages until its connection ends. */
    private void read(SocketChannel connection) {
        Admitted worker = null;
        try (connection; InputStream in = new BufferedInputStream(Channels.newInputStream(connection))) {
            worker = identify(in);
            if (worker == null) {
                return;
            }
            Thread.currentThread().setName("kiln-worker-" + worker.id() + "-channel");
            for (byte[] frame; (frame = WorkerCodec.readFrame(in)) != null; ) {
                long now = System.nanoTime();
                try {
                    WorkerMessage message = WorkerCodec.decode(frame);
                    if (message instanceof Metrics(var family)) {
                        if (metrics != null) {
                            metrics.report(worker.id(), family);
                        }
                        continue;
                    }
                    heard.add(new Heard(worker.id(), message, now));
                    if (!(message instanceof State || message instanceof InFlight)) {
                        wake.run();           // readiness, a recycle: acted on now, not at the next tick
                    }
                } catch (Malformed | RuntimeException e) {
                    LOG.warn("{}: a message that cannot be read, dropped ({})", worker.name(),
                            e instanceof Malformed ? e.getMessage() : e.toString());
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("Worker channel: a connection ended: {}", e.toString());
        } finally {
            connections.remove(connection);
            if (worker != null && metrics != null) {
                metrics.gone(worker.id());
            }
        }
    }

    /** The worker whose token the connection's first message presents; null (logged) for anything else. */
    private Admitted identify(InputStream in) throws IOException {
        byte[] frame = WorkerCodec.readFrame(in);
        if (frame == null) {
            return null;
        }
        try {
            if (WorkerCodec.decode(frame) instanceof Hello(String token)) {
                Admitted worker = tokens.remove(token);
                if (worker != null) {
                    return worker;
                }
            }
            LOG.warn("Worker channel: a connection that did not present a worker's token; closed");
        } catch (Malformed e) {
            LOG.warn("Worker channel: a connection whose first message cannot be read ({}); closed", e.getMessage());
        }
        return null;
    }

    private static void pause() {
        try {
            Thread.sleep(100);        // an error that persists (out of fds) is not retried in a busy loop
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops listening, ends the connections left, and removes the socket and its directory. */
    @Override
    public void close() {
        try {
            server.close();
            for (SocketChannel connection : new ArrayList<>(connections)) {
                connection.close();
            }
            Files.deleteIfExists(path);
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            LOG.debug("Worker channel: closing {}: {}", path, e.toString());
        }
    }

    /**
     * The worker's end: connects to the master named in {@code env} and presents its token. Throws
     * {@link KilnException} when the environment names no master or the master cannot be reached.
     */
    static Link connect(Map<String, String> env) {
        String path = env.get(PATH_ENV);
        String token = env.get(TOKEN_ENV);
        if (path == null || token == null) {
            throw KilnException.failure("no " + PATH_ENV + " and " + TOKEN_ENV + " in the environment: 'kiln worker' is"
                    + " started by the prefork master only");
        }
        try {
            SocketChannel socket = SocketChannel.open(UnixDomainSocketAddress.of(path));
            Link link = new Link(socket);
            link.tell(new Hello(token));
            return link;
        } catch (IOException e) {
            throw KilnException.failure("cannot reach the prefork master at " + path + ": " + e.getMessage());
        }
    }

    /**
     * A worker's connection to its master. {@link #tell} writes one whole frame, from any thread; a
     * master gone makes it a no-op (the worker notices the master is gone by its parent pid and stops).
     */
    static final class Link implements AutoCloseable {

        private final SocketChannel socket;
        private boolean broken;

        private Link(SocketChannel socket) {
            this.socket = socket;
        }

        synchronized void tell(WorkerMessage message) {
            if (broken) {
                return;
            }
            ByteBuffer frame = ByteBuffer.wrap(WorkerCodec.encode(message));
            try {
                while (frame.hasRemaining()) {
                    socket.write(frame);
                }
            } catch (IOException e) {
                broken = true;
                LOG.warn("The channel to the master is closed ({}); messages to it are dropped from now on", e.toString());
            }
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException e) {
                LOG.debug("Closing the channel to the master: {}", e.toString());
            }
        }
    }
}
