package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * systemd socket activation, with systemd's own test launcher: it binds the socket, waits for the
 * first connection, then execs Kiln with {@code LISTEN_FDS=1}. The connection that woke Kiln is
 * served, and the socket survives an in-place restart.
 */
@Tag("process")
class SocketActivationTest {

    @TempDir
    Path dir;

    @Test
    void kilnServesOnTheActivatedSocketAndKeepsItAcrossARestart() throws Exception {
        List<String> activate = List.of("systemd-socket-activate", "-l", "127.0.0.1:{port}");
        try (KilnProcess kiln = KilnProcess.launch(dir, activate)) {
            kiln.awaitLog("Listening on 127\\.0\\.0\\.1:" + kiln.port(), 1);
            assertThat(kiln.get("/hello")).startsWith("HTTP/1.1 200").endsWith("Hello, world");
            // the line is written by the log's own thread, maybe after the answer went out
            kiln.awaitLog("HTTP service \\(Jetty\\) running through socket activation on 127\\.0\\.0\\.1:" + kiln.port(), 1);

            kiln.signal("HUP");
            kiln.awaitLog("running on 127\\.0\\.0\\.1:" + kiln.port() + " \\(socket kept across the restart\\)", 1);
            assertThat(kiln.get("/web/health")).startsWith("HTTP/1.1 200");
            assertThat(kiln.process().isAlive()).isTrue();
        }
    }
}
