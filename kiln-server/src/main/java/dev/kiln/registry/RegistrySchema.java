package dev.kiln.registry;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Kiln's own tables in every database, created before any addon: the addon states (Odoo's
 * {@code ir_module_module}), the migrations applied, the registry signaling sequence that tells
 * every process a registry changed (Odoo's {@code base_registry_signaling}), and the cron jobs with
 * their triggers and progress (Odoo's {@code ir_cron}, {@code ir_cron_trigger}, {@code ir_cron_progress};
 * see {@code dev.kiln.cron.CronStore}), and the bus messages (Odoo's {@code bus_bus}; see
 * {@code dev.kiln.bus.BusStore}). The two cron tables updated at every call leave room in
 * their pages (fillfactor 70) and {@code kiln_cron} has no index on a column a call changes, so a
 * call's updates are HOT: no index entry written, no page left for VACUUM to clean per call.
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
            CREATE TABLE IF NOT EXISTS kiln_cron (
                id bigserial PRIMARY KEY,
                name text NOT NULL UNIQUE,
                addon text,
                code text NOT NULL,
                interval_number integer NOT NULL CHECK (interval_number > 0),
                interval_type text NOT NULL CHECK (interval_type IN ('minutes', 'hours', 'days', 'weeks', 'months')),
                timezone text NOT NULL DEFAULT 'UTC',
                priority integer NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 10),
                active boolean NOT NULL DEFAULT true,
                nextcall timestamptz NOT NULL DEFAULT now(),
                lastcall timestamptz,
                failure_count integer NOT NULL DEFAULT 0,
                first_failure_date timestamptz,
                wall_time time)
                WITH (fillfactor = 70);
            CREATE TABLE IF NOT EXISTS kiln_cron_trigger (
                id bigserial PRIMARY KEY,
                cron_id bigint NOT NULL REFERENCES kiln_cron ON DELETE CASCADE,
                call_at timestamptz NOT NULL);
            CREATE INDEX IF NOT EXISTS kiln_cron_trigger_due ON kiln_cron_trigger (call_at, cron_id);
            CREATE INDEX IF NOT EXISTS kiln_cron_trigger_job ON kiln_cron_trigger (cron_id);
            CREATE TABLE IF NOT EXISTS kiln_cron_progress (
                cron_id bigint PRIMARY KEY REFERENCES kiln_cron ON DELETE CASCADE,
                done integer NOT NULL DEFAULT 0,
                remaining integer NOT NULL DEFAULT 0,
                timed_out_counter integer NOT NULL DEFAULT 0,
                completed_at timestamptz,
                updated_at timestamptz NOT NULL DEFAULT now())
                WITH (fillfactor = 70);
            CREATE TABLE IF NOT EXISTS kiln_bus (
                id bigserial PRIMARY KEY,
                channel text NOT NULL,
                message jsonb NOT NULL,
                created timestamptz NOT NULL DEFAULT now());
            CREATE INDEX IF NOT EXISTS kiln_bus_created ON kiln_bus (created);
            """;

    /** The last object {@link #DDL} creates: when it exists, the schema is complete. */
    private static final String LAST = "kiln_bus_created";

    private RegistrySchema() { }

    /**
     * Creates the tables when missing; safe to run from several processes at once. A complete
     * schema is left alone: even {@code CREATE INDEX IF NOT EXISTS} locks its table first, and would
     * wait for every transaction writing to it (a long cron job that triggered another, say).
     */
    static void ensure(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            try (ResultSet row = statement.executeQuery("SELECT to_regclass('" + LAST + "') IS NOT NULL")) {
                row.next();
                if (row.getBoolean(1)) {
                    return;
                }
            }
            // CREATE ... IF NOT EXISTS still races on the catalog; one creator at a time.
            statement.execute("SELECT pg_advisory_xact_lock(" + Locks.SCHEMA + ")");
            statement.execute(DDL);
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
