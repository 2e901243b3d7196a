package dev.kiln.server;

import dev.kiln.auth.Users;
import dev.kiln.config.Config;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.DatabaseManager;
import dev.kiln.db.EngineCheck;
import dev.kiln.db.Notifications;
import dev.kiln.db.Postgres;
import dev.kiln.db.Transactions;
import dev.kiln.failure.KilnException;
import dev.kiln.registry.AddonInstaller;
import dev.kiln.registry.Registries;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * Odoo's {@code preload_registries}: for each {@code -d} database, create it when missing (with
 * {@code base}), install {@code -i}, update {@code -u}, and load its registry before serving. A
 * database that fails is logged at CRITICAL with its name, and the exit code of
 * {@code --stop-after-init} says so; the others are served.
 */
final class Preload {

    private static final Logger LOG = LoggerFactory.getLogger(Preload.class);

    private final Config config;
    private final Postgres postgres;
    private final DatabaseManager manager;
    private final Registries registries;
    private final ConnectionPools pools;
    private final Notifications notifications;

    Preload(Config config, Postgres postgres, ConnectionPools pools, DatabaseManager manager, Registries registries,
            Notifications notifications) {
        this.notifications = notifications;
        this.pools = pools;
        this.config = config;
        this.postgres = postgres;
        this.manager = manager;
        this.registries = registries;
    }

    /** Returns 0 when every database is ready, 1 when any failed. */
    int run() {
        // started here, once HTTP listens: the database-less routes do not wait for them
        postgres.startInBackground();
        notifications.start();
        if (!config.dbName().isEmpty()) {
            EngineCheck.verify(pools);      // before the databases are made: a server that cannot run them is refused
        }
        int rc = 0;
        for (String db : config.dbName()) {
            try {
                preload(db);
            } catch (KilnException e) {
                LOG.error("CRITICAL: failed to initialize database '{}': {}", db, e.getMessage());
                rc = KilnException.FAILURE;
            }
        }
        return rc;
    }

    private void preload(String db) {
        List<String> install = new ArrayList<>(config.init());
        boolean created = false;
        if (!manager.exists(db)) {
            manager.create(db);
            registries.evict(db);
            if (config.withDemo()) {
                Transactions.inTransaction(pools, db, connection -> {
                    AddonInstaller.markWithDemo(connection);
                    return null;
                });
            }
            LOG.info("{}: database created{}", db, config.withDemo() ? " (with demo data)" : "");
            install.addFirst("base");
            created = true;
        }
        if (!install.isEmpty()) {
            registries.installer().install(db, install);
        }
        if (created) {
            // Odoo's first user of a new database; `kiln db create` lets the operator choose instead
            Transactions.inTransaction(pools, db, connection -> Users.createAdministrator(connection, "admin", "admin", "Administrator"));
            LOG.warn("{}: created with the user admin, password admin: change it", db);
        }
        if (!config.update().isEmpty()) {
            registries.installer().update(db, config.update());
        }
        registries.load(db);
    }
}
