package dev.kiln.cron;

import dev.kiln.cron.store.CronStore;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.Isolation;
import dev.kiln.db.SqlErrors;
import dev.kiln.failure.KilnException;
import dev.kiln.registry.Registries;
import dev.kiln.registry.Registry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/** The cron jobs by hand: {@code kiln cron list} and {@code kiln cron run}. */
public final class CronManual {

    private static final Logger LOG = LoggerFactory.getLogger(CronManual.class);
    private static final String LOCKED = "55P03";
    private static final String NO_TABLE = "42P01";

    private CronManual() { }

    /** The jobs of {@code db}, by name. */
    public static List<CronStore.Listed> list(ConnectionPools pools, String db) {
        try (Connection connection = pools.connection(db, Isolation.READ_COMMITTED)) {
            List<CronStore.Listed> jobs = CronStore.list(connection);
            connection.commit();
            return jobs;
        } catch (SQLException e) {
            throw failure(db, e);
        }
    }

    /**
     * Runs the job {@code name} of {@code db} now, in this process, whether due or not (Odoo's "Run
     * manually"): refused while a runner holds it. Its next call is not moved. Returns the seconds
     * the call took; a failing call throws with the job's error.
     */
    public static double run(ConnectionPools pools, Registries registries, String db, String name) {
        try (Connection claim = pools.connection(db, Isolation.READ_COMMITTED);
             Connection work = pools.connection(db)) {
            CronStore.Claimed job;
            try {
                job = CronStore.claimNamed(claim, name);
            } catch (SQLException e) {
                if (LOCKED.equals(e.getSQLState())) {
                    throw KilnException.failure("cron job '" + name + "' in database '" + db
                            + "' is already executing (a runner holds it); try again when it is done");
                }
                throw e;
            }
            if (job == null) {
                throw KilnException.failure("database '" + db + "' has no cron job named '" + name
                        + "' (kiln cron list -d " + db + " shows them)");
            }
            Registry registry = registries.get(db, work);
            work.commit();
            long started = System.nanoTime();
            LOG.info("{}: cron job '{}' started by hand", db, name);
            CronCall.Result result = CronCall.run(pools, db, registry, () -> registries.reload(db), work, job,
                    new AtomicBoolean(), () -> true, 0);
            if (!result.ok()) {
                claim.rollback();
                LOG.error("{}: cron job '{}' failed", db, name, result.failure());
                throw KilnException.failure("cron job '" + name + "' failed: " + SqlErrors.firstLine(result.failure()));
            }
            CronStore.finishManual(claim, job);
            claim.commit();
            return (System.nanoTime() - started) / 1e9;
        } catch (SQLException e) {
            throw failure(db, e);
        }
    }

    private static KilnException failure(String db, SQLException e) {
        if (NO_TABLE.equals(e.getSQLState())) {
            return KilnException.failure("database '" + db + "' has no cron tables: it is not a Kiln database,"
                    + " or Kiln has not served it yet (kiln -d " + db + " --stop-after-init prepares it)");
        }
        return KilnException.failure("database '" + db + "': " + SqlErrors.firstLine(e));
    }
}
