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
import java.util.function.Supplier;

/**
 * Where {@code kiln status} asks a running server what it is doing: a Unix domain socket (readable
 * by the server's user only) whose path follows from the data dir and the HTTP port, so the command
 * finds it with the same options as the server. A server told port 0 names it after the port the
 * kernel gave it (the one it announces), which is the one {@code kiln status --http-port} is then
 * given. Each connection gets the report as text and is closed.
 */
public final class StatusSocket implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(StatusSocket.class);
    /** sun_path holds 108 bytes; a longer path falls back to the temporary folder. */
    private static final int MAX_PATH = 100;

    private final Path path;
    private final ServerSocketChannel channel;
    private final Thread thread;

    private StatusSocket(Path path, ServerSocketChannel channel, Supplier<String> report) {
        this.path = path;
        this.channel = channel;
        this.thread = Thread.ofPlatform().daemon().name("kiln-status").start(() -> serve(report));
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
    static StatusSocket open(Config config, int port, Supplier<String> report) {
        Path path = pathOf(config, port);
        try {
            Files.createDirectories(path.getParent());
            Files.deleteIfExists(path);      // left by a server that was killed; the port is ours now
            ServerSocketChannel channel = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            channel.bind(UnixDomainSocketAddress.of(path));
            Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            return new StatusSocket(path, channel, report);
        } catch (IOException | RuntimeException e) {
            LOG.warn("kiln status will not answer: cannot open {} ({})", path, e.toString());
            return null;
        }
    }

    private void serve(Supplier<String> report) {
        while (channel.isOpen()) {
            try (SocketChannel client = channel.accept()) {
                ByteBuffer text = ByteBuffer.wrap(report.get().getBytes(StandardCharsets.UTF_8));
                while (text.hasRemaining()) {
                    client.write(text);
                }
            } catch (IOException | RuntimeException e) {
                if (channel.isOpen()) {
                    LOG.debug("kiln status: {}", e.toString());
                }
            }
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
