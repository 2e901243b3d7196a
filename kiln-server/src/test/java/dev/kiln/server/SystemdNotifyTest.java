package dev.kiln.server;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * systemd's notify protocol, heard on a real datagram socket named by {@code NOTIFY_SOCKET} (bound
 * by Python, as the JDK's datagram channels speak only IP): READY once serving, RELOADING with
 * MONOTONIC_USEC then READY again for a HUP, STOPPING for a TERM, WATCHDOG pings while it runs.
 */
@Tag("process")
class SystemdNotifyTest {

    /** Receives datagrams on argv[1] and appends each to argv[2] as one line, its newlines as '|'. */
    private static final String RECEIVER = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(sys.argv[1])
            with open(sys.argv[2], 'a', buffering=1) as out:
                while True:
                    out.write(s.recv(65536).decode().replace('\\n', '|') + '\\n')
            """;

    @TempDir
    Path dir;
    private Process receiver;

    @AfterEach
    void stopReceiver() throws InterruptedException {
        if (receiver != null) {
            receiver.destroy();
            receiver.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void theThreadedServerSaysReadyReloadingReadyAndStoppingAndPetsTheWatchdog() throws Exception {
        Path heard = listen();
        try (KilnProcess kiln = KilnProcess.launch(Files.createDirectories(dir.resolve("kiln")), env())) {
            await().atMost(Duration.ofSeconds(60)).until(() -> messages(heard).stream().anyMatch(m -> m.startsWith("READY=1")));
            kiln.signal("HUP");
            await().atMost(Duration.ofSeconds(60)).until(() -> kinds(heard).equals(List.of("READY", "RELOADING", "READY")));
            int before = messages(heard).size();
            // WATCHDOG_USEC=1 s: the restarted image's loop pets it every turn
            await().atMost(Duration.ofSeconds(30)).until(() -> messages(heard).stream().skip(before).anyMatch("WATCHDOG=1"::equals));
            kiln.signal("TERM");
            assertThat(kiln.awaitExit(Duration.ofSeconds(60))).isZero();
            await().atMost(Duration.ofSeconds(10)).until(() -> kinds(heard).equals(List.of("READY", "RELOADING", "READY", "STOPPING")));
            assertThat(messages(heard)).anyMatch(m -> m.matches("RELOADING=1\\|MONOTONIC_USEC=\\d+\\|STATUS=.*"))
                    .anyMatch(m -> m.startsWith("READY=1|STATUS=threaded: "));
        }
    }

    @Test
    void thePreforkMasterAloneSpeaksReadyOnceItsWorkersServeAndAgainAfterAReload() throws Exception {
        Path heard = listen();
        try (KilnProcess kiln = KilnProcess.launch(Files.createDirectories(dir.resolve("kiln")), env(), "--workers=2",
                "--max-cron-threads=0")) {
            await().atMost(Duration.ofSeconds(60)).until(() -> kinds(heard).equals(List.of("READY")));
            assertThat(kiln.workers().stream().filter(KilnProcess.Worker::servingHttp)).hasSize(2);
            kiln.signal("HUP");
            kiln.awaitHttpWorkers(2, 2);
            await().atMost(Duration.ofSeconds(60)).until(() -> kinds(heard).equals(List.of("READY", "RELOADING", "READY")));
            kiln.signal("TERM");
            assertThat(kiln.awaitExit(Duration.ofSeconds(60))).isZero();
            await().atMost(Duration.ofSeconds(10)).until(() -> kinds(heard).equals(List.of("READY", "RELOADING", "READY", "STOPPING")));
            assertThat(messages(heard)).anyMatch(m -> m.startsWith("READY=1|STATUS=prefork: 2 HTTP workers of generation 2"));
        }
    }

    private Path listen() throws IOException {
        Path socket = dir.resolve("notify.sock");
        Path heard = dir.resolve("heard.txt");
        Files.createFile(heard);
        receiver = new ProcessBuilder("python3", "-c", RECEIVER, socket.toString(), heard.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("receiver.log").toFile()).start();
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(socket));
        return heard;
    }

    private List<String> env() {
        return List.of("NOTIFY_SOCKET=" + dir.resolve("notify.sock"), "WATCHDOG_USEC=1000000");
    }

    private static List<String> messages(Path heard) throws IOException {
        return Files.readAllLines(heard);
    }

    /** The state changes heard, in order: READY, RELOADING, STOPPING (status lines and watchdog pings left out). */
    private static List<String> kinds(Path heard) throws IOException {
        return messages(heard).stream().filter(m -> m.startsWith("READY=") || m.startsWith("RELOADING=") || m.startsWith("STOPPING="))
                .map(m -> m.substring(0, m.indexOf('='))).toList();
    }
}
