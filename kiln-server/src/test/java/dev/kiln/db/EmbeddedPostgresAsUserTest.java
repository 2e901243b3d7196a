package dev.kiln.db;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The embedded PostgreSQL for a user who is not root, the path that needs no {@code unshare}: as
 * that user when the tests run as one, else as {@code nobody} through {@code runuser} (util-linux),
 * from a copy of the class path that user can read.
 */
@Tag("process")
class EmbeddedPostgresAsUserTest {

    @TempDir
    Path dir;

    @Test
    void aUserWhoIsNotRootStartsTheEmbeddedServerInItsOwnDataDir() throws Exception {
        boolean root = "root".equals(System.getProperty("user.name"));
        Path data = Files.createDirectories(dir.resolve("data"));
        List<String> command = new ArrayList<>();
        String classPath = System.getProperty("java.class.path");
        if (root) {
            classPath = readableCopy(classPath);
            readableByAll(dir);
            UserPrincipalLookupService users = dir.getFileSystem().getUserPrincipalLookupService();
            Files.setOwner(data, users.lookupPrincipalByName("nobody"));
            command.addAll(List.of("runuser", "-u", "nobody", "--"));
        }
        command.addAll(List.of(ProcessHandle.current().info().command().orElseThrow(), "--enable-native-access=ALL-UNNAMED",
                "-cp", classPath, AttachMain.class.getName(), data.toString()));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        boolean done = child.waitFor(120, TimeUnit.SECONDS);
        String output = new String(child.getInputStream().readAllBytes());
        if (!done) {
            child.destroyForcibly();
        }
        assertThat(done).as(output).isTrue();
        assertThat(output).containsPattern("port=\\d+ owner=true").doesNotContain("error=");
        assertThat(data.resolve("postgres-15/PG_VERSION")).exists();
    }

    /** Copies every class path entry under the test's folder, so another user can read it. */
    private String readableCopy(String classPath) throws IOException {
        Path copy = Files.createDirectories(dir.resolve("cp"));
        List<String> entries = new ArrayList<>();
        int i = 0;
        for (String entry : classPath.split(File.pathSeparator)) {
            Path source = Path.of(entry);
            if (!Files.exists(source)) {
                continue;
            }
            Path target = copy.resolve(i++ + "-" + source.getFileName());
            if (Files.isDirectory(source)) {
                try (Stream<Path> files = Files.walk(source)) {
                    for (Path file : files.toList()) {
                        Path to = target.resolve(source.relativize(file).toString());
                        if (Files.isDirectory(file)) {
                            Files.createDirectories(to);
                        } else {
                            Files.copy(file, to);
                        }
                    }
                }
            } else {
                Files.copy(source, target);
            }
            entries.add(target.toString());
        }
        return String.join(File.pathSeparator, entries);
    }

    private static void readableByAll(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            for (Path file : files.toList()) {
                Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(Files.isDirectory(file) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
    }
}
