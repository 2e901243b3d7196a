package dev.kiln.registry;

import dev.kiln.addons.AddonLoader;
import dev.kiln.addons.ServerVersion;
import dev.kiln.auth.Users;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.DatabaseException;
import dev.kiln.db.DatabaseException.Reason;
import dev.kiln.db.DatabaseManager;
import dev.kiln.db.Transactions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * The database manager as operators use it (the {@code kiln db} commands and the
 * {@code /web/database/*} routes): {@link DatabaseManager}'s operations plus what makes a database
 * Kiln's — {@code base} and a first user at creation, the addon state in a backup, the registry
 * forgotten after a drop or restore. A backup is a zip holding {@code dump} (a pg_dump custom
 * archive) and {@code manifest.json} (format, Kiln version, PostgreSQL major, installed addons with
 * their versions); restore refuses any other zip, and one whose addons the addons path lacks.
 * Failures are one-line {@link DatabaseException}s; nothing half-made is left behind.
 */
public final class DatabaseService {

    /** The {@code format} of manifest.json; a restore refuses any other. */
    public static final String FORMAT = "kiln-database-backup/1";
    static final String DUMP = "dump", MANIFEST = "manifest.json";
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseService.class);
    /** Built on first use: a backup or restore, never the start-up. */
    private static final class Json {
        static final JsonMapper MAPPER = JsonMapper.builder().build();
    }

    private final DatabaseManager manager;
    private final Registries registries;
    private final AddonLoader catalog;
    private final ConnectionPools pools;

    public DatabaseService(DatabaseManager manager, Registries registries, AddonLoader catalog, ConnectionPools pools) {
        this.manager = manager;
        this.registries = registries;
        this.catalog = catalog;
        this.pools = pools;
    }

    public List<String> list() {
        return manager.list();
    }

    /** Creates {@code name} with {@code base} installed and an active user {@code login}; all or nothing. */
    public void create(String name, String login, String password) {
        DatabaseManager.checkName(name);
        if (login == null || login.isBlank() || password == null || password.isEmpty()) {
            throw new DatabaseException(Reason.FAILED, "cannot create database '" + name
                    + "': the first user needs a login and a password");
        }
        manager.create(name);
        registries.evict(name);      // a new database: nothing this process knew of one by that name holds
        try {
            registries.installer().install(name, List.of("base"));
            Transactions.inTransaction(pools, name, connection -> Users.createAdministrator(connection, login, password, "Administrator"));
        } catch (RuntimeException e) {
            discard(name, e);
            throw e;
        }
        LOG.info("{}: created with base and the user '{}'", name, login);
    }

    public void drop(String name) {
        registries.evict(name);
        manager.drop(name);
        registries.evict(name);
    }

    public void duplicate(String source, String target) {
        manager.duplicate(source, target);
    }

    /** Writes the backup zip of {@code name} to {@code archive}, replaced only when complete. */
    public void backup(String name, Path archive) {
        Path target = archive.toAbsolutePath();
        Path work = tempDirectory(target.getParent(), "back up database '" + name + "'");
        try {
            Path dump = work.resolve(DUMP);
            manager.backup(name, dump);
            Map<String, Object> manifest = new LinkedHashMap<>();
            manifest.put("format", FORMAT);
            manifest.put("database", name);
            manifest.put("kiln", ServerVersion.current());
            manifest.put("postgresql", manager.serverMajorVersion());
            manifest.put("addons", installedVersions(name));
            Path zip = work.resolve("backup.zip");
            try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(zip))) {
                out.putNextEntry(new ZipEntry(MANIFEST));
                out.write(Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(manifest));
                out.closeEntry();
                out.putNextEntry(new ZipEntry(DUMP));
                Files.copy(dump, out);
                out.closeEntry();
            }
            Files.move(zip, target, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new DatabaseException(Reason.FAILED, "cannot write the backup of database '" + name + "' to "
                    + target + ": " + e.getMessage(), e);
        } finally {
            deleteTree(work);
        }
        LOG.info("{}: backed up to {}", name, target);
    }

    /** Recreates {@code name} from a backup zip {@link #backup} wrote. */
    public void restore(String name, Path archive) {
        DatabaseManager.checkName(name);
        Path work = tempDirectory(archive.toAbsolutePath().getParent(), "restore database '" + name + "'");
        try (ZipFile zip = openBackup(archive)) {
            JsonNode manifest = manifest(zip, archive);
            requireAddons(manifest, archive);
            ZipEntry dumpEntry = zip.getEntry(DUMP);
            if (dumpEntry == null) {
                throw notKilns(archive, "it holds no " + DUMP);
            }
            Path dump = work.resolve(DUMP);
            try (InputStream in = zip.getInputStream(dumpEntry)) {
                Files.copy(in, dump);
            }
            registries.evict(name);
            manager.restore(name, dump);
            registries.evict(name);
        } catch (IOException e) {
            throw new DatabaseException(Reason.FAILED, "cannot restore database '" + name + "' from " + archive
                    + ": " + e.getMessage(), e);
        } finally {
            deleteTree(work);
        }
        LOG.info("{}: restored from {}", name, archive);
    }

    /** Copies a backup zip from {@code in} to a temporary file next to {@code folder}, restores it, removes it. */
    public void restore(String name, InputStream in, Path folder) {
        Path file = null;
        try {
            file = Files.createTempFile(folder, "kiln-restore", ".zip");
            try (OutputStream out = Files.newOutputStream(file)) {
                in.transferTo(out);
            }
            restore(name, file);
        } catch (IOException e) {
            throw new DatabaseException(Reason.FAILED, "cannot restore database '" + name + "': " + e.getMessage(), e);
        } finally {
            if (file != null) {
                deleteTree(file);
            }
        }
    }

    private Map<String, String> installedVersions(String name) {
        Map<String, String> versions = new LinkedHashMap<>();
        try (Connection connection = pools.connection(name);
             Statement statement = connection.createStatement();
             ResultSet rows = statement.executeQuery(
                     "SELECT name, version FROM kiln_addon WHERE state = 'installed' ORDER BY name")) {
            while (rows.next()) {
                versions.put(rows.getString(1), rows.getString(2));
            }
            connection.rollback();
        } catch (SQLException e) {
            if (!"42P01".equals(e.getSQLState())) {     // 42P01: not a Kiln database yet, nothing installed
                throw new DatabaseException(Reason.FAILED, name + ": cannot read the installed addons: " + e.getMessage(), e);
            }
        }
        return versions;
    }

    private static ZipFile openBackup(Path archive) throws IOException {
        if (!Files.isReadable(archive)) {
            throw new DatabaseException(Reason.FAILED, "backup file " + archive + " does not exist or cannot be read");
        }
        try {
            return new ZipFile(archive.toFile());
        } catch (ZipException e) {
            throw notKilns(archive, "it is not a zip file");
        }
    }

    private static JsonNode manifest(ZipFile zip, Path archive) throws IOException {
        ZipEntry entry = zip.getEntry(MANIFEST);
        if (entry == null) {
            throw notKilns(archive, "it holds no " + MANIFEST);
        }
        JsonNode manifest;
        try (InputStream in = zip.getInputStream(entry)) {
            manifest = Json.MAPPER.readTree(in);
        } catch (JacksonException e) {
            throw notKilns(archive, MANIFEST + " is not JSON");
        }
        if (manifest == null || !FORMAT.equals(manifest.path("format").asString(""))) {
            throw notKilns(archive, MANIFEST + " does not say format " + FORMAT);
        }
        return manifest;
    }

    private void requireAddons(JsonNode manifest, Path archive) {
        List<String> missing = new ArrayList<>();
        for (String addon : manifest.path("addons").propertyNames()) {
            if (!catalog.available().containsKey(addon)) {
                missing.add(addon);
            }
        }
        if (!missing.isEmpty()) {
            throw new DatabaseException(Reason.FAILED, "backup " + archive + " needs addons missing from the addons path: "
                    + String.join(", ", missing) + " (add their folders to addons_path)");
        }
    }

    private static DatabaseException notKilns(Path archive, String why) {
        return new DatabaseException(Reason.FAILED, archive + " is not a Kiln backup: " + why);
    }

    private void discard(String name, RuntimeException cause) {
        try {
            drop(name);
        } catch (RuntimeException dropFailure) {
            cause.addSuppressed(dropFailure);
        }
    }

    private static Path tempDirectory(Path near, String what) {
        try {
            return Files.createTempDirectory(near == null ? Path.of(".") : near, ".kiln-db");
        } catch (IOException e) {
            throw new DatabaseException(Reason.FAILED, "cannot " + what + ": no temporary folder in " + near
                    + ": " + e.getMessage(), e);
        }
    }

    private static void deleteTree(Path root) {
        try (var walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException ignored) {
            // A leftover temporary file names itself (.kiln-db*) and is harmless.
        }
    }
}
