package dev.kiln.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Debian's PgBouncer in transaction pooling mode, run from the {@code docs/pgbouncer.ini} operators
 * read, in front of the PostgreSQL at {@code postgresPort}; its ports, auth (trust) and paths the
 * test's own; as nobody when the test is root (PgBouncer refuses root). Stopped by {@link #close}.
 */
record PgBouncer(Process process, int port) implements AutoCloseable {
    static PgBouncer start(Path dir, int postgresPort) throws IOException, InterruptedException {
        Path binary = Path.of("/usr/sbin/pgbouncer");
        assertThat(binary).as("Debian's pgbouncer (.ci/run installs it)").isExecutable();
        Path home = Files.createDirectories(dir.resolve("pgbouncer"));
        int port = KilnProcess.freePort();
        String ini = Files.readString(Path.of(System.getProperty("kiln.dist")).getParent().resolve("docs/pgbouncer.ini"))
                .replace("port=5432", "port=" + postgresPort)
                .replace("listen_port = 6432", "listen_port = " + port)
                .replace("auth_type = scram-sha-256", "auth_type = trust")       // the embedded server trusts localhost
                .replace("/etc/pgbouncer/userlist.txt", home.resolve("userlist.txt").toString());
        assertThat(ini).contains("pool_mode = transaction").contains("listen_port = " + port);
        Files.writeString(home.resolve("pgbouncer.ini"), ini);
        Files.writeString(home.resolve("userlist.txt"), "\"kiln\" \"\"\n");
        for (Path path : List.of(dir, home)) {
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        List<String> command = new ArrayList<>(List.of(binary.toString()));
        if ("root".equals(System.getProperty("user.name"))) {
            command.addAll(List.of("-u", "nobody"));                     // PgBouncer refuses to run as root
        }
        command.add(home.resolve("pgbouncer.ini").toString());
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(home.resolve("pgbouncer.log").toFile()).start();
        Commands.awaitListening(process, home.resolve("pgbouncer.log"), port);
        PgBouncer bouncer = new PgBouncer(process, port);
        return bouncer;
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
