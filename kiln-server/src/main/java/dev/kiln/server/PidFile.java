package dev.kiln.server;

import dev.kiln.failure.KilnException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** {@code --pidfile}: written when the server starts (and again after an in-place restart), removed at exit. */
final class PidFile {

    private PidFile() { }

    static void write(Path path) {
        if (path == null) {
            return;
        }
        try {
            Path parent = path.toAbsolutePath().getParent();
            Path temp = Files.createTempFile(parent, ".kiln-pid", ".tmp");
            Files.writeString(temp, ProcessHandle.current().pid() + "\n");
            Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw KilnException.failure("--pidfile " + path + ": cannot write it (" + e.getMessage() + ")");
        }
    }

    static void remove(Path path) {
        if (path == null) {
            return;
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // The process is leaving; a stale pidfile names a pid that no longer runs.
        }
    }
}
