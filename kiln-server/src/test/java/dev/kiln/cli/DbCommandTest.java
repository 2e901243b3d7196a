package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.db.SharedPostgres;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kiln db ...} as an operator runs it, in this JVM, against the embedded PostgreSQL of the
 * test data dir (started by the command and stopped again when no server owns it).
 */
@Tag("process")
class DbCommandTest {

    @TempDir
    Path home;

    private record Outcome(int code, String out, String err) { }

    private Outcome db(Map<String, String> extraEnv, String... args) {
        List<String> all = new ArrayList<>(List.of("db"));
        all.addAll(List.of(args));
        all.addAll(List.of("--data-dir=" + SharedPostgres.dataDir(), "--log-level=warn"));
        Map<String, String> env = new HashMap<>(Map.of("HOME", home.toString()));
        env.putAll(extraEnv);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = KilnCommand.run(all.toArray(String[]::new), env,
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private Outcome db(String... args) {
        return db(Map.of(), args);
    }

    private static String unique(String prefix) {
        return prefix + "_" + UUID.randomUUID().toString().substring(0, 8);
    }

    @Test
    void createListDuplicateBackupDropAndRestoreRoundTrip() throws IOException {
        String db = unique("cli");
        String copy = db + "_copy";
        Path archive = home.resolve("backup.zip");
        try {
            assertThat(db(Map.of("KILN_ADMIN_PASSWORD", "s3cret"), "create", db, "--login", "boss"))
                    .as("create").extracting(Outcome::code).isEqualTo(0);
            assertThat(db("list").out().lines()).contains(db);
            assertThat(db("duplicate", db, copy).code()).isZero();
            assertThat(db("list").out().lines()).contains(db, copy);
            Outcome backup = db("backup", db, archive.toString());
            assertThat(backup.code()).as(backup.err()).isZero();
            try (ZipFile zip = new ZipFile(archive.toFile())) {
                String manifest = new String(zip.getInputStream(zip.getEntry("manifest.json")).readAllBytes(), StandardCharsets.UTF_8);
                assertThat(manifest).contains("\"format\" : \"kiln-database-backup/1\"").contains("\"base\"")
                        .contains("\"postgresql\" : 15");
                assertThat(zip.getEntry("dump")).isNotNull();
            }
            assertThat(db("drop", db).code()).isZero();
            assertThat(db("list").out().lines()).doesNotContain(db);
            Outcome restore = db("restore", db, archive.toString());
            assertThat(restore.code()).as(restore.err()).isZero();
            assertThat(db("list").out().lines()).contains(db);
        } finally {
            db("drop", db);
            db("drop", copy);
        }
    }

    @Test
    void eachFailureIsOneLineAndExitCodeOne() throws IOException {
        String db = unique("clifail");
        try {
            assertThat(db(Map.of("KILN_ADMIN_PASSWORD", "x"), "create", db).code()).isZero();
            assertThat(db(Map.of("KILN_ADMIN_PASSWORD", "x"), "create", db))
                    .isEqualTo(new Outcome(1, "", "kiln: database '" + db + "' already exists\n"));
            assertThat(db("duplicate", db, db)).isEqualTo(new Outcome(1, "", "kiln: database '" + db + "' already exists\n"));
            assertThat(db("backup", db + "_missing", home.resolve("b.zip").toString()))
                    .isEqualTo(new Outcome(1, "", "kiln: database '" + db + "_missing' does not exist\n"));
            assertThat(db("restore", db, home.resolve("b.zip").toString()).err())
                    .isEqualTo("kiln: backup file " + home.resolve("b.zip") + " does not exist or cannot be read\n");
        } finally {
            db("drop", db);
        }
        assertThat(db("drop", db)).isEqualTo(new Outcome(1, "", "kiln: database '" + db + "' does not exist\n"));
        assertThat(db(Map.of("KILN_ADMIN_PASSWORD", "x"), "create", "a").err()).startsWith("kiln: invalid database name 'a'");
        assertThat(db(Map.of("KILN_ADMIN_PASSWORD", "x"), "create", "bad/name").err()).startsWith("kiln: invalid database name 'bad/name'");
        assertThat(db("create", db).err()).startsWith("kiln: kiln db create needs the first user's password");
        assertThat(db("create").code()).isEqualTo(2);
        assertThat(db("rename", db).code()).isEqualTo(2);
    }

    @Test
    void restoreRefusesAZipThatIsNotKilnsAndOneNeedingMissingAddons() throws IOException {
        Path foreign = home.resolve("foreign.zip");
        zip(foreign, Map.of("dump.sql", "SELECT 1;"));
        assertThat(db("restore", unique("r"), foreign.toString()).err())
                .isEqualTo("kiln: " + foreign + " is not a Kiln backup: it holds no manifest.json\n");
        Path needy = home.resolve("needy.zip");
        zip(needy, Map.of("manifest.json", "{\"format\": \"kiln-database-backup/1\", \"addons\": {\"base\": \"1.0\", \"nowhere\": \"1.0\"}}",
                "dump", "x"));
        Outcome o = db("restore", unique("r"), needy.toString());
        assertThat(o).isEqualTo(new Outcome(1, "", "kiln: backup " + needy
                + " needs addons missing from the addons path: nowhere (add their folders to addons_path)\n"));
    }

    private static void zip(Path file, Map<String, String> entries) throws IOException {
        try (OutputStream raw = Files.newOutputStream(file); ZipOutputStream out = new ZipOutputStream(raw)) {
            for (Map.Entry<String, String> e : entries.entrySet()) {
                out.putNextEntry(new ZipEntry(e.getKey()));
                out.write(e.getValue().getBytes(StandardCharsets.UTF_8));
                out.closeEntry();
            }
        }
    }
}
