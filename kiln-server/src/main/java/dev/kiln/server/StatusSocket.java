package dev.kiln.server;

import dev.kiln.config.Config;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * Where {@code kiln ctl} (and its short form {@code kiln status}) asks a running server what it is
 * doing and tells it what to do: a Unix domain socket (mode 0600) whose path follows from the data
 * dir and the HTTP port, so the command finds it with the same options as the server. A server told
 * port 0 names it after the port the kernel gave it (the one it announces), which is the one
 * {@code kiln ctl --http-port} is then given.
 *
 * <p>A connection sends one line, the verb and its arguments ({@code status}, {@code reload},
 * {@code workers +1}...), and reads the answer until the server closes it; an answer that starts
 * with {@code error:} is a refusal. Besides the file's mode, a peer whose user is not the server's
 * (nor root) is refused by its credentials ({@code SO_PEERCRED}); a connection that sends no line
 * within {@link #REQUEST_TIMEOUT} is closed. Each connection is served on a virtual thread of its own.
 */
public final class StatusSocket implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(StatusSocket.class);
    /** sun_path holds 108 bytes; a longer path falls back to the temporary folder. */
    private static final int MAX_PATH = 100;

    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);
    private static final int MAX_REQUEST = 1024;

    /** What the server does with one request line: its answer, {@code error: ...} for a refusal. */
    @FunctionalInterface
    interface Control {
        String answer(String request);
    }

    private final Path path;
    private final ServerSocketChannel channel;
    private final Thread thread;
    private final String owner = System.getProperty("user.name");

    private StatusSocket(Path path, ServerSocketChannel channel, Control control) {
        this.path = path;
        this.channel = channel;
        this.thread = Thread.ofPlatform().daemon().name("kiln-status").start(() -> serve(control));
    }

    /** The socket's path for {@code config}: {@code <data_dir>/run/kiln-<port>.sock}, or a short one in the temporary folder. */
    public static Path pathOf(Config config) {
        return pathOf(config, config.httpPort());
    }

    private static Path pathOf(Config config, int port) {
        return pathOf(config.dataDir(), port);
    }

    /** The socket's path for the server on {@code port} with {@code dataDir}. */
    static Path pathOf(Path dataDir, int port) {
        dataDir = dataDir.toAbsolutePath().normalize();
        Path path = dataDir.resolve("run").resolve("kiln-" + port + ".sock");
        if (path.toString().length() <= MAX_PATH) {
            return path;
        }
        return Path.of(System.getProperty("java.io.tmpdir"),
                "kiln-" + Integer.toHexString(dataDir.toString().hashCode()) + "-" + port + ".sock");
    }

    /**
     * Opens the socket of the server listening on {@code port}; a failure is logged (the server runs
     * without {@code kiln status}) and null returned.
     */
    static StatusSocket open(Config config, int port, Control control) {
        Path path = pathOf(config, port);
        try {
            Files.createDirectories(path.getParent());
            Files.deleteIfExists(path);      // left by a server that was killed; the port is ours now
            ServerSocketChannel channel = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            channel.bind(UnixDomainSocketAddress.of(path));
            Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            return new StatusSocket(path, channel, control);
        } catch (IOException | RuntimeException e) {
            LOG.warn("kiln status will not answer: cannot open {} ({})", path, e.toString());
            return null;
        }
    }

    private void serve(Control control) {
        while (channel.isOpen()) {
            try {
                SocketChannel client = channel.accept();
                Thread.ofVirtual().name("kiln-control").start(() -> answer(client, control));
            } catch (IOException | RuntimeException e) {
                if (channel.isOpen()) {
                    LOG.debug("kiln ctl: {}", e.toString());
                }
            }
        }
    }

    /** Reads one request line, answers it, closes the connection. */
    private void answer(SocketChannel client, Control control) {
        Thread timer = Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(REQUEST_TIMEOUT);
                closeQuietly(client);        // a client that sends no line does not hold a thread for ever
            } catch (InterruptedException answered) {
                // answered in time
            }
        });
        try (client) {
            String refusal = refusal(client);
            String request = refusal == null ? readLine(client) : null;
            String answer = refusal != null ? refusal : request == null ? "error: no request line\n" : control.answer(request.strip());
            ByteBuffer text = ByteBuffer.wrap(answer.getBytes(StandardCharsets.UTF_8));
            while (text.hasRemaining()) {
                client.write(text);
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("kiln ctl: {}", e.toString());
        } finally {
            timer.interrupt();
        }
    }

    /** Null when the peer runs as the server's user or as root; else the refusal, logged. */
    private String refusal(SocketChannel client) throws IOException {
        UnixDomainPrincipal peer = client.getOption(ExtendedSocketOptions.SO_PEERCRED);
        String user = peer.user().getName();
        if (user.equals(owner) || user.equals("root")) {
            return null;
        }
        LOG.warn("kiln ctl: a connection of user {} refused: the server runs as {}", user, owner);
        return "error: refused: user " + user + " is not the server's\n";
    }

    private static String readLine(SocketChannel client) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(MAX_REQUEST);
        while (buffer.hasRemaining()) {
            if (client.read(buffer) < 0) {
                break;
            }
            for (int i = 0; i < buffer.position(); i++) {
                if (buffer.get(i) == '\n') {
                    return new String(buffer.array(), 0, i, StandardCharsets.UTF_8);
                }
            }
        }
        return null;
    }

    private static void closeQuietly(SocketChannel client) {
        try {
            client.close();
        } catch (IOException ignored) {
            // closed already
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.debug("kiln status: closing {}: {}", path, e.toString());
        }
        thread.interrupt();
    }
}
