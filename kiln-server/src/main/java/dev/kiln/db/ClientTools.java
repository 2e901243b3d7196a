package dev.kiln.db;

import dev.kiln.db.DatabaseException.Reason;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * pg_dump and pg_restore for a server of a given major version. The embedded binaries ship only
 * initdb, pg_ctl and postgres, so these come from the operating system (Debian:
 * postgresql-client-&lt;major&gt;). Looked for in {@code /usr/lib/postgresql/<major>/bin}, then on
 * PATH; a pg_dump older than the server cannot dump it and is refused.
 */
record ClientTools(Path pgDump, Path pgRestore, int major) {

    private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\) (\\d+)");

    static ClientTools forServer(int serverMajor) {
        List<Path> folders = new ArrayList<>();
        folders.add(Path.of("/usr/lib/postgresql", Integer.toString(serverMajor), "bin"));
        String path = System.getenv("PATH");
        if (path != null) {
            for (String entry : path.split(File.pathSeparator)) {
                if (!entry.isBlank()) {
                    folders.add(Path.of(entry));
                }
            }
        }
        String older = null;
        for (Path folder : folders) {
            Path dump = folder.resolve("pg_dump");
            Path restore = folder.resolve("pg_restore");
            if (!Files.isExecutable(dump) || !Files.isExecutable(restore)) {
                continue;
            }
            Optional<Integer> major = majorOf(dump);
            if (major.isPresent() && major.get() >= serverMajor) {
                return new ClientTools(dump, restore, major.get());
            }
            if (older == null) {
                older = dump + " is PostgreSQL " + major.map(String::valueOf).orElse("of unknown version");
            }
        }
        throw new DatabaseException(Reason.CLIENT_TOOLS, "pg_dump and pg_restore of PostgreSQL " + serverMajor
                + " or newer are needed for backup and restore"
                + (older != null ? " (" + older + ")" : " (none in /usr/lib/postgresql/" + serverMajor + "/bin or on PATH)")
                + ": install postgresql-client-" + serverMajor);
    }

    private static Optional<Integer> majorOf(Path tool) {
        try {
            Process process = new ProcessBuilder(tool.toString(), "--version").redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(10, TimeUnit.SECONDS) || process.exitValue() != 0) {
                process.destroyForcibly();
                return Optional.empty();
            }
            Matcher matcher = VERSION.matcher(output);
            return matcher.find() ? Optional.of(Integer.parseInt(matcher.group(1))) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }
}
