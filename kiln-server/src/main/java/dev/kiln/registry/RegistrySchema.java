package dev.kiln.registry;

import dev.kiln.bus.BusStore;
import dev.kiln.cron.store.CronStore;
import dev.kiln.db.Tables;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Kiln's own tables in every database, created before any addon: the addon states (Odoo's
 * {@code ir_module_module}), the migrations applied and the registry signaling sequence that tells
 * every process a registry changed (Odoo's {@code base_registry_signaling}); then, in the same
 * transaction, the tables the cron processor and the bus own ({@link CronStore#TABLES},
 * {@link BusStore#TABLES}), each package keeping its own DDL beside its SQL.
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

    /** Every part, in the order they are created (the cron and bus tables reference nothing of the registry's). */
    private static final List<Tables> PARTS = List.of(new Tables(DDL, SIGNALING), CronStore.TABLES, BusStore.TABLES);

    private RegistrySchema() { }

    /**
     * Creates the tables when missing; safe to run from several processes at once. A complete
     * schema is left alone: even {@code CREATE INDEX IF NOT EXISTS} locks its table first, and would
     * wait for every transaction writing to it (a long cron job that triggered another, say).
     */
    static void ensure(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            try (ResultSet row = statement.executeQuery("SELECT " + PARTS.stream()
                    .map(part -> "to_regclass('" + part.last() + "') IS NOT NULL").collect(Collectors.joining(" AND ")))) {
                row.next();
                if (row.getBoolean(1)) {
                    return;
                }
            }
            // CREATE ... IF NOT EXISTS still races on the catalog; one creator at a time.
            statement.execute("SELECT pg_advisory_xact_lock(" + Locks.SCHEMA + ")");
            for (Tables part : PARTS) {
                statement.execute(part.ddl());
            }
        }
    }

    /** The advisory locks Kiln takes, one number each. */
    static final class Locks {
        static final long SCHEMA = 0x4b494c4e0001L;
        static final long INSTALL = 0x4b494c4e0002L;
        // 0x4b494c4e0003: the bus's message ids (dev.kiln.bus.BusStore)

        private Locks() { }
    }
}
