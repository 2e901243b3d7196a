package dev.kiln.db;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The bundled PostgreSQL archive is read once per folder it is unpacked into: each later start (a
 * new resolver, as a new process has) finds the unpacked binaries through a link, and a swept folder
 * is unpacked again.
 */
class EmbeddedBinariesTest {

    @TempDir
    Path dir;

    @Test
    void onlyTheFirstStartReadsTheArchiveAndASweptFolderIsUnpackedAgain() throws Exception {
        Path folder = dir.resolve("binaries");
        Path data = dir.resolve("data");
        int reads = EmbeddedBinaries.archiveReads();

        assertThat(startAndAsk(new EmbeddedBinaries(folder), data)).isEqualTo(1);
        assertThat(EmbeddedBinaries.archiveReads()).as("the first start reads the archive").isEqualTo(reads + 1);
        Path link = onlyLink(folder);
        Path unpacked = folder.resolve(Files.readSymbolicLink(link));
        assertThat(unpacked.resolve("bin/postgres")).isExecutable();

        assertThat(startAndAsk(new EmbeddedBinaries(folder), data)).isEqualTo(1);
        assertThat(EmbeddedBinaries.archiveReads()).as("a later start reads nothing").isEqualTo(reads + 1);

        deleteTree(unpacked);               // a cleaner swept the binaries: the link leads nowhere
        assertThat(startAndAsk(new EmbeddedBinaries(folder), data)).isEqualTo(1);
        assertThat(EmbeddedBinaries.archiveReads()).as("the swept folder is unpacked again").isEqualTo(reads + 2);
        assertThat(onlyLink(folder)).isEqualTo(link);
        assertThat(folder.resolve(Files.readSymbolicLink(link)).resolve("bin/postgres")).isExecutable();
    }

    /** Starts the library's server as Kiln does, with {@code binaries}; its answer to {@code SELECT 1}. */
    private static int startAndAsk(EmbeddedBinaries binaries, Path data) throws Exception {
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder()
                .setDataDirectory(data)
                .setCleanDataDirectory(false)
                .setRegisterShutdownHook(false)
                .setOverrideWorkingDirectory(binaries.folder().toFile())
                .setPgBinaryResolver(binaries)
                .setServerConfig("listen_addresses", "localhost")
                .setServerConfig("unix_socket_directories", "''")
                .start();
             Connection connection = postgres.getPostgresDatabase().getConnection();
             Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery("SELECT 1")) {
            binaries.remember();
            row.next();
            return row.getInt(1);
        }
    }

    private static Path onlyLink(Path folder) throws Exception {
        try (Stream<Path> entries = Files.list(folder)) {
            return entries.filter(Files::isSymbolicLink).reduce((a, b) -> {
                throw new AssertionError("two links: " + a + ", " + b);
            }).orElseThrow(() -> new AssertionError("no link in " + folder));
        }
    }

    private static void deleteTree(Path root) throws Exception {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }
}
