package dev.kiln.cron.store;

import dev.kiln.db.ConnectionPools;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;

/**
 * Wakes the cron runners of every Kiln process on the server, Odoo's {@code cron_trigger}: each
 * process's notification listener {@code LISTEN}s on {@value #CHANNEL} in the maintenance database
 * (a listener hears only its own database, and a runner serves them all), and whoever commits a
 * trigger notifies the database's name there after the commit. A lost notification costs latency
 * only: runners poll too.
 */
public final class CronSignals {

    public static final String CHANNEL = "kiln_cron";
    private static final Logger LOG = LoggerFactory.getLogger(CronSignals.class);

    private CronSignals() { }

    /** Call after the commit that made a job of {@code db} due (or changed when one falls due). */
    public static void wake(ConnectionPools pools, String db) {
        try {
            pools.notifyServer(CHANNEL, db);
        } catch (RuntimeException | SQLException e) {
            LOG.debug("{}: could not wake the cron runners ({}); they will poll", db, e.toString());
        }
    }
}
