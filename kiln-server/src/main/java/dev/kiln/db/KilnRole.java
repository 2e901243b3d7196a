package dev.kiln.db;

import dev.kiln.db.DatabaseException.Reason;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * The PostgreSQL role Kiln serves with on the embedded server: {@value #NAME}, which may log in and
 * create databases and owns every database it serves, and nothing more: not a superuser, so SQL
 * that reaches the server through an addon or a restored backup (a {@code CHECK} calling
 * {@code COPY ... TO PROGRAM}, an untrusted language, a file read) cannot run programs or read the
 * host's files. Odoo refuses to run as {@code postgres} for the same reason.
 *
 * <p>{@link #ensure} runs at every start, as the server's superuser, under an advisory lock (several
 * Kiln processes may start at once on one data dir): it creates the role on first use, and hands
 * it every database the superuser still owns (a data dir made before Kiln served with its own
 * role): the database, its schemas and every table, sequence, view, function and type in them.
 * After that first time it is one query.
 */
final class KilnRole {

    static final String NAME = "kiln";
    /** Kiln's advisory locks are 0x4b494c4e0001 and up; this one guards the role's creation and hand-over. */
    private static final long LOCK = 0x4b494c4e0010L;
    private static final Logger LOG = LoggerFactory.getLogger(KilnRole.class);

    private KilnRole() { }

    /** Makes sure {@link #NAME} exists and owns every database but the server's own; {@code superuser} connects. */
    static void ensure(PgAddress superuser) {
        try (Connection admin = connect(superuser, ConnectionPools.MAINTENANCE_DATABASE);
             Statement statement = admin.createStatement()) {
            // Bounded: a holder that never lets go (a session whose client vanished unseen) fails this
            // start in one line rather than hanging it.
            statement.execute("SET lock_timeout = '20s'");
            statement.execute("SELECT pg_advisory_lock(" + LOCK + ")");
            try {
                try (ResultSet role = statement.executeQuery("SELECT 1 FROM pg_roles WHERE rolname = '" + NAME + "'")) {
                    if (!role.next()) {
                        statement.execute("CREATE ROLE " + NAME + " LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOREPLICATION");
                        LOG.info("embedded PostgreSQL: role '{}' created; Kiln connects as it (not as a superuser)", NAME);
                    }
                }
                for (String database : notOwned(admin)) {
                    handOver(superuser, admin, database);
                }
            } finally {
                statement.execute("SELECT pg_advisory_unlock(" + LOCK + ")");
            }
        } catch (SQLException e) {
            throw new DatabaseException(Reason.FAILED, "embedded PostgreSQL: cannot set up the role '" + NAME + "': "
                    + SqlErrors.firstLine(e), e);
        }
    }

    /** The address Kiln serves with: {@code superuser}'s server, as {@link #NAME}. */
    static PgAddress of(PgAddress superuser) {
        return new PgAddress(superuser.host(), superuser.port(), NAME, null, superuser.sslmode());
    }

    private static List<String> notOwned(Connection admin) throws SQLException {
        List<String> databases = new ArrayList<>();
        try (PreparedStatement select = admin.prepareStatement("""
                SELECT datname FROM pg_database
                WHERE datdba <> (SELECT oid FROM pg_roles WHERE rolname = ?)
                  AND datname NOT IN ('postgres', 'template0', 'template1') AND datallowconn
                ORDER BY datname""")) {
            select.setString(1, NAME);
            try (ResultSet rows = select.executeQuery()) {
                while (rows.next()) {
                    databases.add(rows.getString(1));
                }
            }
        }
        return databases;
    }

    /** Gives {@code database} and what is in it to {@link #NAME}, in one transaction per database. */
    private static void handOver(PgAddress superuser, Connection admin, String database) throws SQLException {
        try (Connection connection = connect(superuser, database); Statement statement = connection.createStatement()) {
            connection.setAutoCommit(false);
            statement.execute("""
                    DO $$
                    DECLARE o record;
                    BEGIN
                      FOR o IN SELECT n.nspname FROM pg_namespace n
                               WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' LOOP
                        EXECUTE format('ALTER SCHEMA %I OWNER TO kiln', o.nspname);
                      END LOOP;
                      FOR o IN SELECT c.oid::regclass AS name, CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                      WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
                               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                               WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
                                 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
                                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')
                                                 AND d.classid = 'pg_class'::regclass) LOOP
                        EXECUTE format('ALTER %s %s OWNER TO kiln', o.kind, o.name);
                      END LOOP;
                      FOR o IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                               WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
                                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') LOOP
                        EXECUTE format('ALTER ROUTINE %s OWNER TO kiln', o.name);
                      END LOOP;
                      FOR o IN SELECT t.oid::regtype AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                               WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
                                 AND t.typtype IN ('e', 'd', 'r', 'm')
                                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e') LOOP
                        EXECUTE format('ALTER TYPE %s OWNER TO kiln', o.name);
                      END LOOP;
                    END $$""");
            connection.commit();
        }
        try (Statement statement = admin.createStatement()) {
            statement.execute("ALTER DATABASE \"" + database.replace("\"", "\"\"") + "\" OWNER TO " + NAME);
        }
        LOG.info("embedded PostgreSQL: database '{}' and what is in it now belong to role '{}'", database, NAME);
    }

    private static Connection connect(PgAddress address, String database) throws SQLException {
        return DriverManager.getConnection(address.jdbcUrl(database), address.driverProperties(10));
    }
}
