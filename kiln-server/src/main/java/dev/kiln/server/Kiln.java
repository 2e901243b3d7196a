package dev.kiln.server;

import dev.kiln.addons.AddonCheck;
import dev.kiln.addons.AddonLoader;
import dev.kiln.addons.AddonWatcher;
import dev.kiln.addons.LoadedAddons;
import dev.kiln.bus.BusDispatcher;
import dev.kiln.config.Config;
import dev.kiln.cron.CronService;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.DatabaseManager;
import dev.kiln.db.Notifications;
import dev.kiln.db.Postgres;
import dev.kiln.failure.KilnException;
import dev.kiln.metrics.KilnMetrics;
import dev.kiln.http.DatabaseManagerRoutes;
import dev.kiln.http.DatabaseSelector;
import dev.kiln.http.Databases;
import dev.kiln.http.HttpFrontDoor;
import dev.kiln.http.HttpOptions;
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
        if (config.workers() == 0) {
            StartAhead.start();
        }
        Parts parts = Parts.of(config);
        Preload preload = new Preload(config, parts.postgres, parts.pools, parts.manager, parts.registries, parts.notifications);
        CommonServer server;
        if (config.workers() > 0) {
            server = new PreforkServer(config, preload::run);      // its workers serve HTTP; the master does not
        } else {
            Http http = parts.http(false);
            server = new ThreadedServer(config, http.application, preload::run,
                    new CronService(config, parts.pools, parts.registries, parts.databases, parts.notifications),
                    http.bus::stop);
        }
        return serve(server, parts, watchAddons(config, server, config.workers() > 0 ? "prefork" : "threaded"),
                config.httpEnable());
    }

    /**
     * {@code kiln evented}: the evented server alone on gevent_port (see {@link EventedServer}),
     * restarting in place like the threaded server. It installs nothing and runs no cron job; the
     * HTTP servers on the same PostgreSQL do.
     */
    public static int startEvented(Config config) {
        if (!config.init().isEmpty() || !config.update().isEmpty() || config.stopAfterInit()) {
            throw KilnException.usage("kiln evented serves websockets and long polls only: install or update with"
                    + " kiln server -d DB -i/-u, not with kiln evented");
        }
        StartAhead.start();
        Parts parts = Parts.of(config);
        Http http = parts.http(false);
        parts.postgres.startInBackground();
        parts.notifications.start();
        EventedServer server = new EventedServer(config, http.application, http.bus::stop);
        return serve(server, parts, watchAddons(config, server, "evented"), true);
    }

    /**
     * Runs {@code server} until it stops, then lets go of what the process holds, and when it
     * stopped for a restart, execs this process again in place, keeping the listening socket on
     * fd 0 when {@code keepSocket}. Returns the exit code.
     */
    private static int serve(CommonServer server, Parts parts, AddonWatcher watcher, boolean keepSocket) {
        int rc;
        try {
            rc = server.run();
        } finally {
            if (watcher != null) {
                watcher.close();          // its inotify descriptor must not outlive this image
            }
            // before the pools close, so its end is not taken for an outage
            timed(server, "closing the notification listener", parts.notifications::close);
            timed(server, "closing the connection pools", parts.pools::close);
            if (server.phoenix()) {
                timed(server, "waiting for PostgreSQL's start", parts.postgres::settle);  // the next image adopts it
            } else {
                parts.postgres.close();
            }
        }
        if (server.phoenix()) {
            try {
                Phoenix.reexec(keepSocket, server.signals);
            } catch (OsException e) {
                throw new KilnException(KilnException.FAILURE, "in-place restart failed: " + e.getMessage(), e);
            }
        }
        return rc;
    }

    /** Runs one step of letting go; a slow one of an in-place restart is logged. */
    private static void timed(CommonServer server, String step, Runnable action) {
        long start = System.nanoTime();
        action.run();
        server.noteRestartStep(step, start);
    }

    /**
     * With {@code --dev=reload}, the watcher of the addons path that makes {@code server} reload
     * once a change passes the check a start would make; null otherwise. Never in a worker.
     */
    private static AddonWatcher watchAddons(Config config, CommonServer server, String mode) {
        if (!config.dev("reload") || config.stopAfterInit()) {
            return null;
        }
        AddonWatcher watcher = AddonWatcher.start(config.addonsPath(),
                AddonCheck.of(config.addonsPath(), config.dataDir(), config.serverWideModules()), mode, server::addonsChanged);
        if (watcher != null) {
            server.whenServing(watcher::warmUpCompiler);
        }
        return watcher;
    }

    /**
     * A worker of the prefork server, started by the master: {@code http} (the listening socket on
     * fd 0), {@code evented} (the gevent_port socket on fd 0: long-lived connections, no request
     * limits) or {@code cron} (one cron runner); returns its exit code. A worker that cannot boot
     * throws with {@link HttpWorker#BOOT_FAILURE}.
     */
    public static int startWorker(String kind, Config config) {
        if (!kind.equals("cron")) {
            StartAhead.start();
        }
        Parts parts;
        WorkerChannel.Link toMaster;
        try {
            toMaster = WorkerChannel.connect(System.getenv());
        } catch (KilnException e) {
            throw new KilnException(HttpWorker.BOOT_FAILURE, e.getMessage(), e);
        }
        Http http;
        try {
            parts = Parts.of(config);
            // Odoo enforces limit_time_cpu in prefork HTTP workers only; a cron worker serves no HTTP
            http = kind.equals("cron") ? null : parts.http(kind.equals("http") && config.limitTimeCpu() > 0);
        } catch (KilnException e) {
            toMaster.close();
            throw new KilnException(HttpWorker.BOOT_FAILURE, e.getMessage(), e);
        }
        // the database server is the master's: a worker attaches to it (starting it only if it is gone)
        parts.postgres.startInBackground();
        parts.notifications.start();
        try (toMaster) {
            CommonServer worker = kind.equals("cron")
                    ? new CronWorker(config, new CronService(config, 1, parts.pools, parts.registries, parts.databases,
                            parts.notifications), toMaster)
                    : new HttpWorker(config, http.application, toMaster, http.bus::stop, kind.equals("evented"));
            return worker.run();
        } finally {
            parts.notifications.close();
            parts.pools.close();
            parts.postgres.close();
        }
    }

    /**
     * What every mode is made of: one of each per process. The notification listener starts once
     * PostgreSQL may be up (the preload, or a worker's start) and closes before the pools. The
     * server-wide addons are loaded in every process, so that one that cannot load stops the start
     * (the prefork master's too) with its reason.
     */
    private record Parts(Config config, AddonLoader catalog, LoadedAddons serverWide, Postgres postgres,
                         ConnectionPools pools, Notifications notifications, DatabaseManager manager,
                         Registries registries, Supplier<List<String>> databases) {

        static Parts of(Config config) {
            if (config.metrics()) {
                KilnMetrics.enable();       // before anything records: every process of a server with metrics_port
            }
            AddonLoader catalog = AddonLoader.discover(config.addonsPath(), config.dataDir());
            LoadedAddons serverWide = catalog.load(config.serverWideModules());
            refuseSuperuserByName(config);
            Postgres postgres = Postgres.of(config);
            ConnectionPools pools = ConnectionPools.of(postgres, config);
            Notifications notifications = new Notifications(pools);
            DatabaseManager manager = new DatabaseManager(pools, config.dbTemplate());
            Registries registries = new Registries(catalog, config.serverWideModules(), pools, notifications);
            return new Parts(config, catalog, serverWide, postgres, pools, notifications, manager, registries,
                    databaseList(config, manager));
        }

        /**
         * The HTTP side: the bus and the application. Built only by a process that serves HTTP (the
         * threaded and evented servers, prefork HTTP and evented workers), never by the prefork
         * master or a cron worker.
         *
         * @param abortable let limit_time_cpu answer a request in its handler's stead
         */
        Http http(boolean abortable) {
            BusDispatcher bus = new BusDispatcher(pools, notifications,
                    new BusDispatcher.Limits(config.busMaxPollsPerClient(), config.busMaxPollsPerDb()));
            DatabaseSelector selector = new DatabaseSelector(config.dbfilter(), databases);
            DatabaseManagerRoutes databaseManager = new DatabaseManagerRoutes(
                    new DatabaseService(manager, registries, catalog, pools), config.adminPasswd(), config.listDb(),
                    config.dev("debug"), config.dev("access"), selector::visible);
            HttpFrontDoor application = HttpFrontDoor.withDatabases(serverWide, httpOptions(config).withAbortable(abortable),
                    new Databases(pools, registries, selector, bus), registries.staticFolders(), databaseManager);
            return new Http(bus, application);
        }
    }

    /** What serves HTTP in a process: the bus of its long polls and websockets, and the application. */
    private record Http(BusDispatcher bus, HttpFrontDoor application) { }

    /**
     * Odoo's start-up check: {@code db_user} {@code postgres} is refused at once, before any
     * connection (every other superuser is refused by its pools' first connection).
     */
    private static void refuseSuperuserByName(Config config) {
        if (config.dbHost() != null && !config.dbHost().isBlank() && "postgres".equals(config.dbUser())
                && !config.dbAllowSuperuser()) {
            throw KilnException.usage("db_user 'postgres' is a superuser: Kiln refuses to run as it, as any SQL"
                    + " reaching the server could then run programs on its host; give db_user a role that owns Kiln's"
                    + " databases and may create them (CREATE ROLE ... LOGIN CREATEDB), or pass --db-allow-superuser");
        }
    }

    static HttpOptions httpOptions(Config config) {
        return HttpOptions.defaults().withDebug(config.dev("debug")).withRefusals(config.dev("access"))
                .withProxyMode(config.proxyMode()).withWebsocketOrigins(config.websocketAllowedOrigins());
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
    private static final class CachedList implements Supplier<List<String>>, DatabaseSelector.Refreshable {
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

        @Override
        public void refresh() {
            value = null;
        }
    }
}
