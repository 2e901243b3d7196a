package dev.kiln.registry;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Kiln's own tables in every database, created before any addon: the addon states (Odoo's
 * {@code ir_module_module}), the migrations applied, and the registry signaling sequence that tells
 * every process a registry changed (Odoo's {@code base_registry_signaling}).
 */
final class RegistrySchema {

    static final String SIGNALING = "kiln_registry_signaling";

    private static final String DDL = """
            CREATE TABLE IF NOT EXISTS kiln_addon (
                name text PRIMARY KEY,
                state text NOT NULL CHECK (state IN ('installed', 'to install', 'to upgrade', 'uninstalled')),
                version text,
                installed_at timestamptz,
                updated_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE IF NOT EXISTS kiln_migration (
                addon text NOT NULL,
                version text NOT NULL,
                script text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (addon, version));
            CREATE SEQUENCE IF NOT EXISTS kiln_registry_signaling;
            """;

    private RegistrySchema() { }

    /** Creates the tables when missing; safe to run from several processes at once. */
    static void ensure(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            // CREATE ... IF NOT EXISTS still races on the catalog; one creator at a time.
            statement.execute("SELECT pg_advisory_xact_lock(" + Locks.SCHEMA + ")");
            statement.execute(DDL);
        }
    }

    /** The advisory locks Kiln takes, one number each. */
    static final class Locks {
        static final long SCHEMA = 0x4b494c4e0001L;
        static final long INSTALL = 0x4b494c4e0002L;

        private Locks() { }
    }
}
