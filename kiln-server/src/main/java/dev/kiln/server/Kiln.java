package dev.kiln.server;

import dev.kiln.KilnException;
import dev.kiln.addons.AddonLoader;
import dev.kiln.addons.LoadedAddons;
import dev.kiln.config.Config;
import dev.kiln.cron.CronService;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.DatabaseManager;
import dev.kiln.db.Postgres;
import dev.kiln.http.DatabaseManagerRoutes;
import dev.kiln.http.DatabaseSelector;
import dev.kiln.http.Databases;
import dev.kiln.http.HttpOptions;
import dev.kiln.http.KilnApplication;
import dev.kiln.os.OsException;
import dev.kiln.registry.DatabaseService;
import dev.kiln.registry.Registries;

import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

/**
 * The seed's {@code start()}: load the server-wide addons, reach PostgreSQL (the embedded one starts
 * once HTTP listens, in the background, so routes without a database answer at once), pick the
 * server class for the mode, run it with its cron runners, and when it stopped for a restart, exec
 * this process again in place.
 */
public final class Kiln {

    private Kiln() { }

    /** Starts the server described by {@code config} and returns the process exit code. */
    public static int start(Config config) {
        if (config.dbName().isEmpty() && (!config.init().isEmpty() || !config.update().isEmpty())) {
            throw KilnException.usage("-i/--init and -u/--update need -d/--database: which databases?");
        }
        AddonLoader catalog = AddonLoader.discover(config.addonsPath());
        LoadedAddons serverWide = catalog.load(config.serverWideModules());
        Postgres postgres = Postgres.of(config);
        ConnectionPools pools = ConnectionPools.of(postgres, config);
        DatabaseManager manager = new DatabaseManager(pools, config.dbTemplate());
        Registries registries = new Registries(catalog, config.serverWideModules(), pools);
        Supplier<List<String>> databases = databaseList(config, manager);
        DatabaseSelector selector = new DatabaseSelector(config.dbfilter(), databases);
        DatabaseManagerRoutes databaseManager = new DatabaseManagerRoutes(
                new DatabaseService(manager, registries, catalog, pools), config.adminPasswd(), config.listDb(), config.dev("debug"));
        KilnApplication application = new KilnApplication(serverWide, httpOptions(config),
                new Databases(pools, registries, selector), registries.staticFolders(), databaseManager);
        Preload preload = new Preload(config, postgres, pools, manager, registries);

        CronService cron = new CronService(config, pools, registries, databases);

        CommonServer server = new ThreadedServer(config, application, preload::run, cron);
        int rc;
        try {
            rc = server.run();
        } finally {
            registries.stopListening();
            pools.close();
            if (!server.phoenix()) {
                postgres.close();   // a restarted image adopts the running server instead
            }
        }
        if (server.phoenix()) {
            try {
                Phoenix.reexec(config.httpEnable());
            } catch (OsException e) {
                throw new KilnException(KilnException.FAILURE, "in-place restart failed: " + e.getMessage(), e);
            }
        }
        return rc;
    }

    static HttpOptions httpOptions(Config config) {
        return HttpOptions.defaults().withDebug(config.dev("debug")).withProxyMode(config.proxyMode());
    }

    /** The databases Kiln may serve: the {@code -d} list when given (as Odoo), else those on the server. */
    private static Supplier<List<String>> databaseList(Config config, DatabaseManager manager) {
        if (!config.dbName().isEmpty()) {
            List<String> named = List.copyOf(config.dbName());
            return () -> named;
        }
        return new CachedList(manager::list, Duration.ofSeconds(2));
    }

    /** A list read again at most once per {@code ttl}: listing databases is a query per request otherwise. */
    private static final class CachedList implements Supplier<List<String>> {
        private final Supplier<List<String>> source;
        private final long ttlNanos;
        private volatile List<String> value;
        private volatile long readAt;

        CachedList(Supplier<List<String>> source, Duration ttl) {
            this.source = source;
            this.ttlNanos = ttl.toNanos();
        }

        @Override
        public List<String> get() {
            List<String> current = value;
            if (current == null || System.nanoTime() - readAt > ttlNanos) {
                current = source.get();
                value = current;
                readAt = System.nanoTime();
            }
            return current;
        }
    }
}
