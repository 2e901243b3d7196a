package dev.kiln.server;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A command a test runs to its end, as a user would from a shell: bounded in time (killed, and the
 * test failed with what it printed, when it outlives that), its output kept in a temporary file
 * meanwhile (no pipe to fill), and its exit code 0 required.
 */
final class Commands {

    private Commands() { }

    /** Runs {@code command} in {@code dir}; its standard output, with its errors when {@code withErrors}. */
    static String run(Path dir, Duration within, boolean withErrors, List<String> command) throws IOException, InterruptedException {
        Path output = Files.createTempFile("kiln-command", ".out");
        boolean ended;
        Process process;
        String out;
        try {
            ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile()).redirectOutput(output.toFile());
            if (withErrors) {
                builder.redirectErrorStream(true);
            } else {
                builder.redirectError(ProcessBuilder.Redirect.DISCARD);
            }
            process = builder.start();
            ended = process.waitFor(within.toSeconds(), TimeUnit.SECONDS);
            if (!ended) {
                process.destroyForcibly().waitFor();
            }
            out = Files.readString(output, StandardCharsets.UTF_8);
        } finally {
            Files.deleteIfExists(output);
        }
        assertThat(ended).as(String.join(" ", command) + " still running after " + within + ":\n" + out).isTrue();
        assertThat(process.exitValue()).as(String.join(" ", command) + ":\n" + out).isZero();
        return out;
    }

    /** Runs {@code script} with Python 3 and {@code args}, in {@code dir}, within two minutes; what it printed. */
    static String python(Path dir, String script, String... args) throws IOException, InterruptedException {
        Path file = Files.createTempFile(dir, "script", ".py");
        Files.writeString(file, script);
        List<String> command = new ArrayList<>(List.of("python3", file.toString()));
        command.addAll(List.of(args));
        return run(dir, Duration.ofMinutes(2), true, command);
    }

    /**
     * Waits (at most 30 s) until something listens on 127.0.0.1:{@code port}, while {@code process}
     * lives; a process that died fails with its output ({@code log}). A process that never listens
     * is destroyed before the failure is thrown.
     */
    static void awaitListening(Process process, Path log, int port) {
        try {
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> {
                assertThat(process.isAlive()).as(Files.readString(log)).isTrue();
                try (java.net.Socket socket = new java.net.Socket()) {
                    socket.connect(new java.net.InetSocketAddress("127.0.0.1", port), 1_000);
                    return true;
                } catch (IOException notYet) {
                    return false;
                }
            });
        } catch (RuntimeException | Error e) {
            process.destroyForcibly();
            throw e;
        }
    }
}
