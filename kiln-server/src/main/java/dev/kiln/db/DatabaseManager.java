package dev.kiln.db;

import dev.kiln.db.DatabaseException.Reason;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Odoo's database manager on one PostgreSQL server: list, exists, create, drop, duplicate, backup and
 * restore. Every failure is a one-line {@link DatabaseException}, and no operation leaves a
 * half-made database behind. Backup and restore deal only in the pg_dump archive: the caller adds
 * and restores what else belongs to a database (addon state, files) around these calls.
 */
public final class DatabaseManager {

    /** Odoo's rule for database names. */
    public static final Pattern NAME = Pattern.compile("^[a-zA-Z0-9][a-zA-Z0-9_.-]+$");
    /** PostgreSQL truncates longer identifiers; refuse them rather than create another name. */
    private static final int MAX_NAME_BYTES = 63;
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseManager.class);

    private final ConnectionPools pools;
    private final String template;

    /** Databases of {@code pools}' server; new ones are copies of {@code template} (db_template). */
    public DatabaseManager(ConnectionPools pools, String template) {
        this.pools = pools;
        this.template = template == null || template.isBlank() ? "template0" : template;
    }

    /** Throws a BAD_NAME DatabaseException unless {@code name} follows Odoo's rule. */
    public static void checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new DatabaseException(Reason.BAD_NAME, "invalid database name '" + name + "': use letters, digits,"
                    + " '_', '-' and '.', starting with a letter or digit, at least 2 characters");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            throw new DatabaseException(Reason.BAD_NAME, "invalid database name '" + name + "': at most "
                    + MAX_NAME_BYTES + " characters");
        }
    }

    /**
     * The user databases, sorted: those owned by the connecting user that accept connections, without
     * templates, {@code postgres} and db_template (Odoo's list_dbs).
     */
    public List<String> list() {
        return maintenance(connection -> {
            try (PreparedStatement statement = connection.prepareStatement("""
                    SELECT datname FROM pg_database
                     WHERE datdba = (SELECT usesysid FROM pg_user WHERE usename = current_user)
                       AND NOT datistemplate AND datallowconn
                       AND datname NOT IN ('postgres', 'template0', 'template1', ?)
                     ORDER BY datname""")) {
                statement.setString(1, template);
                List<String> names = new ArrayList<>();
                try (ResultSet rows = statement.executeQuery()) {
                    while (rows.next()) {
                        names.add(rows.getString(1));
                    }
                }
                return names;
            }
        }, "list databases");
    }

    /** Whether a database of that name exists on the server (whoever owns it). */
    public boolean exists(String name) {
        return maintenance(connection -> exists(connection, name), "look up database '" + name + "'");
    }

    /** Creates an empty UTF-8 database from db_template. */
    public void create(String name) {
        checkName(name);
        maintenance(connection -> {
            refuseExisting(connection, name);
            createEmpty(connection, name);
            return null;
        }, "create database '" + name + "'");
        LOG.info("database '{}' created from {}", name, template);
    }

    /**
     * Drops a database: Kiln's pool for it first, then every other session on it. {@code WITH (FORCE)}
     * ends the sessions that come back meanwhile; a role that is not a superuser may not end an
     * autovacuum worker that way (42501, common right after a database was filled), so the drop is
     * then tried without it: PostgreSQL ends its autovacuum workers on the database by itself.
     */
    public void drop(String name) {
        pools.closePool(name);
        maintenance(connection -> {
            requireExisting(connection, name);
            terminateSessions(connection, name);
            try (Statement statement = connection.createStatement()) {
                if (serverMajor(connection) >= 13) {
                    try {
                        statement.execute("DROP DATABASE " + quote(name) + " WITH (FORCE)");
                        return null;
                    } catch (SQLException e) {
                        if (!"42501".equals(e.getSQLState())) {
                            throw e;
                        }
                        LOG.debug("drop database '{}' WITH (FORCE) refused ({}); dropping without it", name, e.getMessage());
                        terminateSessions(connection, name);
                    }
                }
                statement.execute("DROP DATABASE " + quote(name));
            }
            return null;
        }, "drop database '" + name + "'");
        LOG.info("database '{}' dropped", name);
    }

    /** Copies {@code source} into a new database {@code target}, ending the sessions on {@code source}. */
    public void duplicate(String source, String target) {
        checkName(target);
        pools.closePool(source);
        maintenance(connection -> {
            requireExisting(connection, source);
            refuseExisting(connection, target);
            for (int attempt = 1; ; attempt++) {
                terminateSessions(connection, source);
                try (Statement statement = connection.createStatement()) {
                    statement.execute("CREATE DATABASE " + quote(target) + " ENCODING 'UTF8' TEMPLATE " + quote(source));
                    return null;
                } catch (SQLException e) {
                    // 55006: a session came back to the source between the two statements.
                    if (!"55006".equals(e.getSQLState()) || attempt == 3) {
                        throw e;
                    }
                }
            }
        }, "duplicate database '" + source + "' as '" + target + "'");
        LOG.info("database '{}' duplicated as '{}'", source, target);
    }

    /** Writes a pg_dump custom-format archive of {@code name} to {@code archive} (replaced only on success). */
    public void backup(String name, Path archive) {
        int major = maintenance(connection -> {
            requireExisting(connection, name);
            return serverMajor(connection);
        }, "back up database '" + name + "'");
        ClientTools tools = ClientTools.forServer(major);
        Path target = archive.toAbsolutePath();
        Path partial;
        try {
            partial = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".partial");
        } catch (IOException e) {
            throw new DatabaseException(Reason.FAILED, "cannot write the backup of database '" + name + "' to "
                    + target + ": " + e.getMessage(), e);
        }
        try {
            run("pg_dump of database '" + name + "'", tools.pgDump(), name,
                    "--format=custom", "--no-owner", "--file=" + partial);
            Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new DatabaseException(Reason.FAILED, "cannot write the backup of database '" + name + "' to "
                    + target + ": " + e.getMessage(), e);
        } finally {
            deleteQuietly(partial);
        }
        LOG.info("database '{}' backed up to {}", name, target);
    }

    /** Restores a pg_dump archive into a new database {@code name}; on failure that database is dropped. */
    public void restore(String name, Path archive) {
        checkName(name);
        if (!Files.isReadable(archive)) {
            throw new DatabaseException(Reason.FAILED, "cannot restore database '" + name + "': backup file "
                    + archive + " does not exist or cannot be read");
        }
        int major = maintenance(connection -> {
            refuseExisting(connection, name);
            return serverMajor(connection);
        }, "restore database '" + name + "'");
        ClientTools tools = ClientTools.forServer(major);
        maintenance(connection -> {
            createEmpty(connection, name);
            return null;
        }, "restore database '" + name + "'");
        try {
            run("pg_restore into database '" + name + "'", tools.pgRestore(), name,
                    "--no-owner", "--exit-on-error", archive.toAbsolutePath().toString());
        } catch (RuntimeException e) {
            try {
                drop(name);
            } catch (RuntimeException dropFailure) {
                e.addSuppressed(dropFailure);
            }
            throw e;
        }
        LOG.info("database '{}' restored from {}", name, archive);
    }

    /** The server's major version (15 for the embedded one). */
    public int serverMajorVersion() {
        return maintenance(DatabaseManager::serverMajor, "read the server version");
    }

    private void createEmpty(Connection connection, String name) throws SQLException {
        // template0 allows any collation; other templates impose theirs. Odoo uses C collation.
        String collate = template.equals("template0") ? " LC_COLLATE 'C'" : "";
        try (Statement statement = connection.createStatement()) {
            statement.execute("CREATE DATABASE " + quote(name) + " ENCODING 'UTF8'" + collate
                    + " TEMPLATE " + quote(template));
        }
    }

    private static boolean exists(Connection connection, String name) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
            statement.setString(1, name);
            try (ResultSet rows = statement.executeQuery()) {
                return rows.next();
            }
        }
    }

    private static void refuseExisting(Connection connection, String name) throws SQLException {
        if (exists(connection, name)) {
            throw new DatabaseException(Reason.ALREADY_EXISTS, "database '" + name + "' already exists");
        }
    }

    private static void requireExisting(Connection connection, String name) throws SQLException {
        if (!exists(connection, name)) {
            throw new DatabaseException(Reason.NO_SUCH_DATABASE, "database '" + name + "' does not exist");
        }
    }

    /**
     * Ends the other sessions on {@code name} that Kiln's role may end (its own; every one for a
     * superuser): another role's session keeps the database, and the drop then says it is in use.
     */
    private static void terminateSessions(Connection connection, String name) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()"
                        + " AND pg_has_role(current_user, usesysid, 'MEMBER')")) {
            statement.setString(1, name);
            statement.executeQuery().close();
        }
    }

    private static int serverMajor(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet rows = statement.executeQuery("SHOW server_version_num")) {
            rows.next();
            return Integer.parseInt(rows.getString(1)) / 10_000;
        }
    }

    static String conninfoQuote(String value) {
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    static String quote(String identifier) {
        return "\"" + identifier.replace("\"", "\"\"") + "\"";
    }

    /** Work on the maintenance database in autocommit (CREATE/DROP DATABASE refuse transactions). */
    private <T> T maintenance(Transactions.Work<T> work, String what) {
        try (Connection connection = pools.connection(ConnectionPools.MAINTENANCE_DATABASE, Isolation.READ_COMMITTED)) {
            connection.setAutoCommit(true);
            return work.run(connection);
        } catch (SQLException e) {
            String state = e.getSQLState();
            if ("42P04".equals(state)) {
                throw new DatabaseException(Reason.ALREADY_EXISTS, "cannot " + what + ": it already exists", e);
            }
            if ("3D000".equals(state)) {
                throw new DatabaseException(Reason.NO_SUCH_DATABASE, "cannot " + what + ": " + SqlErrors.firstLine(e), e);
            }
            throw new DatabaseException(Reason.FAILED, "cannot " + what + ": " + SqlErrors.firstLine(e), e);
        }
    }

    /** Runs a client tool against {@code database}; a non-zero exit throws its last error line. */
    private void run(String what, Path tool, String database, String... arguments) {
        PgAddress server = pools.server();
        List<String> command = new ArrayList<>(List.of(tool.toString(), "--host=" + server.libpqHosts(),
                "--port=" + server.libpqPorts(), "--username=" + server.effectiveUser(), "--no-password",
                // A connection string, so that no database name is read as one; of several servers, the primary.
                "--dbname=dbname=" + conninfoQuote(database) + (server.several() ? " target_session_attrs=read-write" : "")));
        command.addAll(List.of(arguments));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Map<String, String> environment = builder.environment();
        environment.put("PGSSLMODE", server.sslmode());
        environment.put("PGCONNECT_TIMEOUT", "5");
        environment.remove("PGPASSWORD");
        if (server.password() != null) {
            environment.put("PGPASSWORD", server.password());
        }
        try {
            Process process = builder.start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int exit = process.waitFor();
            if (exit != 0) {
                // the tool's own "error:" line says why; the lines after it only say where (COPY t, line 1)
                String why = output.strip().lines().filter(line -> line.matches("^\\S+: error: .*")).findFirst()
                        .or(() -> output.strip().lines().reduce((a, b) -> b)).orElse("exit code " + exit);
                throw new DatabaseException(Reason.FAILED, what + " failed: " + why.replaceFirst("^\\S+: error: ", ""));
            }
        } catch (IOException e) {
            throw new DatabaseException(Reason.CLIENT_TOOLS, what + " could not run " + tool + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DatabaseException(Reason.FAILED, what + " was interrupted", e);
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // A leftover .partial file is harmless and says what it is.
        }
    }
}
