package dev.kiln.config;

import static dev.kiln.config.Option.Kind.FLAG;
import static dev.kiln.config.Option.Kind.NEGATING_FLAG;
import static dev.kiln.config.Option.Kind.REPEATABLE;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The option table: the one place where Kiln's options are declared. The command line
 * ({@code dev.kiln.cli}), the config file ({@link IniFile}), the environment ({@link ConfigLoader}),
 * {@code --help} and docs/options.md are all built from {@link #ALL}, so they cannot disagree.
 * Keys, flags, meanings and defaults are Odoo's unless the help says otherwise. Each row is also a
 * constant typed by what it parses to, through which {@link ConfigLoader} reads it into {@link Config}.
 */
public final class Options {

    // Declared before the rows, which it collects as they are initialized.
    private static final Table TABLE = new Table();

    // Later versions make these options take effect; until then they are parsed, validated and saved.
    private static final String DATABASES = "database support";

    private static final long MIB = 1024L * 1024;

    public static final Option<Path> CONFIG = TABLE.value("config",
            "path to the configuration file (default: $KILN_RC, else ~/.kilnrc if it exists)",
            ValueType.path(), null, "-c", "--config");

    public static final Option<Boolean> SAVE = TABLE.flag("save",
            "write the effective configuration to the config file (mode 0600), then start",
            "-s", "--save");

    public static final Option<List<Path>> ADDONS_PATH = TABLE.value("addons_path",
            "comma-separated folders holding addons (default: the bundled addons)",
            ValueType.existingFolders(), "", "--addons-path");

    public static final Option<List<String>> SERVER_WIDE_MODULES = TABLE.value("server_wide_modules",
            "comma-separated server-wide addons, loaded without any database",
            ValueType.names(), "base,web", "--load");

    public static final Option<String> HTTP_INTERFACE = TABLE.value("http_interface",
            "address the HTTP server listens on",
            ValueType.text(), "127.0.0.1", "--http-interface");

    public static final Option<Integer> HTTP_PORT = TABLE.value("http_port",
            "port the HTTP server listens on (0 = any free port)",
            ValueType.port(false), "8069", "-p", "--http-port");

    public static final Option<Integer> GEVENT_PORT = TABLE.value("gevent_port",
            "port of the evented server: kiln evented, or the evented worker of prefork mode (websockets, long polling)",
            ValueType.port(false), "8072", "--gevent-port");

    public static final Option<Integer> METRICS_PORT = TABLE.value("metrics_port",
            "port of GET /metrics (Prometheus and OpenMetrics text), on http_interface; 0 = no metrics",
            ValueType.port(false), "0", "--metrics-port");

    public static final Option<Boolean> HTTP_ENABLE = TABLE.negatingFlag("http_enable",
            "do not start the HTTP server", "True", "--no-http");

    public static final Option<Boolean> PROXY_MODE = TABLE.flag("proxy_mode",
            "trust X-Forwarded-* headers from a reverse proxy", "--proxy-mode");

    public static final Option<List<String>> WEBSOCKET_ALLOWED_ORIGINS = TABLE.value("websocket_allowed_origins",
            "comma-separated origins (https://app.example.com) whose pages may open "
                    + "the bus websocket besides the site's own; an upgrade from any other Origin is refused (403)",
            ValueType.names(), "", "--websocket-allowed-origins");

    public static final Option<List<String>> DB_NAME = TABLE.later(DATABASES).value("db_name",
            "comma-separated databases to use (and preload)",
            ValueType.names(), "", "-d", "--database");

    public static final Option<List<String>> INIT = TABLE.later(DATABASES).unsaved().value("init",
            "comma-separated addons to install, then continue",
            ValueType.names(), "", "-i", "--init");

    public static final Option<List<String>> UPDATE = TABLE.later(DATABASES).unsaved().value("update",
            "comma-separated addons to update, then continue",
            ValueType.names(), "", "-u", "--update");

    public static final Option<Boolean> STOP_AFTER_INIT = TABLE.unsaved().flag("stop_after_init",
            "stop the server after its initialization", "--stop-after-init");

    public static final Option<Boolean> WITH_DEMO = TABLE.later(DATABASES).flag("with_demo",
            "load the addons' demo data into the databases this run creates, and into those made so later",
            "--with-demo");

    public static final Option<Integer> WORKERS = TABLE.value("workers",
            "number of worker processes; 0 = threaded mode",
            ValueType.integer(0, 1024, "workers"), "0", "--workers");

    public static final Option<Integer> MAX_CRON_THREADS = TABLE.value("max_cron_threads",
            "number of cron threads (or cron workers in prefork mode)",
            ValueType.integer(0, 1024, "threads"), "2", "--max-cron-threads");

    public static final Option<Long> LIMIT_MEMORY_SOFT = TABLE.value("limit_memory_soft",
            "RSS above which a worker (or the threaded server) restarts "
                    + "gracefully; bytes or 512M/2G; 0 = no limit",
            ValueType.bytes(), Long.toString(2048 * MIB), "--limit-memory-soft");

    public static final Option<Long> LIMIT_MEMORY_HARD = TABLE.value("limit_memory_hard",
            "RSS above which a worker is stopped at once; bytes or 512M/2G; "
                    + "0 = no limit",
            ValueType.bytes(), Long.toString(2560 * MIB), "--limit-memory-hard");

    public static final Option<Integer> LIMIT_TIME_CPU = TABLE.value("limit_time_cpu",
            "CPU seconds one request may use in a prefork HTTP worker; 0 = no limit",
            ValueType.integer(0, Integer.MAX_VALUE, "seconds"), "60", "--limit-time-cpu");

    public static final Option<Integer> SHUTDOWN_DELAY = TABLE.value("shutdown_delay",
            "seconds to go on serving after SIGTERM/SIGINT, /web/health/ready answering 503 meanwhile, "
                    + "before the graceful stop (time for a load balancer to take the server out)",
            ValueType.integer(0, 3600, "seconds"), "0", "--shutdown-delay");

    public static final Option<Integer> LIMIT_TIME_REAL = TABLE.value("limit_time_real",
            "seconds one request may take; 0 = no limit",
            ValueType.integer(0, Integer.MAX_VALUE, "seconds"), "120", "--limit-time-real");

    public static final Option<Integer> LIMIT_TIME_REAL_CRON = TABLE.value("limit_time_real_cron",
            "seconds one cron job may take; -1 = limit_time_real, 0 = no limit",
            ValueType.integer(-1, Integer.MAX_VALUE, "seconds"), "-1", "--limit-time-real-cron");

    public static final Option<Integer> LIMIT_REQUEST = TABLE.value("limit_request",
            "requests a worker serves before it is recycled",
            ValueType.integer(1, Integer.MAX_VALUE, "requests"), "65536", "--limit-request");

    public static final Option<Integer> LIMIT_TIME_WORKER_CRON = TABLE.value("limit_time_worker_cron",
            "seconds a cron worker lives before it is recycled; 0 = forever",
            ValueType.integer(0, Integer.MAX_VALUE, "seconds"), "0", "--limit-time-worker-cron");

    public static final Option<Long> WORKER_HEAP = TABLE.value("worker_heap",
            "Java heap of each prefork worker JVM (its -Xmx); bytes or 512M/2G",
            ValueType.bytes(), Long.toString(512 * MIB), "--worker-heap");

    public static final Option<Integer> WORKER_CONNECTIONS = TABLE.value("worker_connections",
            "connections the evented server (kiln evented, or the prefork evented "
                    + "worker) serves at once; more wait in the kernel's queue",
            ValueType.integer(1, 1_000_000, "connections"), "1000", "--worker-connections");

    public static final Option<Integer> BUS_MAX_POLLS_PER_CLIENT = TABLE.value("bus_max_polls_per_client",
            "long polls (/longpolling/poll) one client address may keep waiting at "
                    + "once, per process; one more is answered 429",
            ValueType.integer(1, 1_000_000, "polls"), "64", "--bus-max-polls-per-client");

    public static final Option<Integer> BUS_MAX_POLLS_PER_DB = TABLE.value("bus_max_polls_per_db",
            "long polls that may wait at once on one database, per process; one more "
                    + "is answered 429",
            ValueType.integer(1, 1_000_000, "polls"), "4096", "--bus-max-polls-per-db");

    public static final Option<Set<String>> DEV_MODE = TABLE.value("dev_mode",
            "comma-separated developer modes: debug (error pages and JSON-RPC errors show the exception, "
                    + "stack trace, request and addon), access (log each refused login or access with its reason), "
                    + "reload, replica (read-only methods run in a read-only transaction, as on a replica: a write "
                    + "there is logged, then run again normally), or all (but replica)",
            ValueType.choiceSet(Set.of("replica"), "access", "debug", "reload", "replica"), "", "--dev");

    public static final Option<Path> PIDFILE = TABLE.value("pidfile",
            "file to write the server's pid to (removed at exit)",
            ValueType.path(), null, "--pidfile");

    public static final Option<Path> DATA_DIR = TABLE.value("data_dir",
            "folder for sessions, attachments, the embedded PostgreSQL (postgres-15/) and compiled source addons (addons-cache/)",
            ValueType.path(), "~/.local/share/kiln", "-D", "--data-dir");

    public static final Option<String> LOG_LEVEL = TABLE.value("log_level",
            "logging preset: " + String.join(", ", LogLevelNames.PRESETS),
            ValueType.choice(LogLevelNames.PRESETS.toArray(String[]::new)), "info", "--log-level");

    public static final Option<Path> LOGFILE = TABLE.value("logfile",
            "file to append the log to (default: stderr)",
            ValueType.path(), null, "--logfile");

    public static final Option<List<String>> LOG_HANDLER = TABLE.repeatable("log_handler",
            "logger:LEVEL, repeatable; \":LEVEL\" sets the root logger; "
                    + "applied after --log-level",
            ValueType.logHandlers(), ":INFO", "--log-handler");

    public static final Option<String> DB_HOST = TABLE.later(DATABASES).value("db_host",
            "PostgreSQL host (default: the embedded PostgreSQL); several, h1,h2:5433, for a primary and its "
                    + "standbys: Kiln uses whichever is the primary, and finds the new one after a failover",
            ValueType.text(), null, "--db_host", "--db-host");

    public static final Option<Integer> DB_PORT = TABLE.later(DATABASES).value("db_port",
            "PostgreSQL port",
            ValueType.port(true), null, "--db_port", "--db-port");

    public static final Option<String> DB_USER = TABLE.later(DATABASES).value("db_user",
            "PostgreSQL user",
            ValueType.text(), null, "-r", "--db_user", "--db-user");

    public static final Option<String> DB_PASSWORD = TABLE.later(DATABASES).value("db_password",
            "PostgreSQL password",
            ValueType.text(), null, "-w", "--db_password", "--db-password");

    public static final Option<String> DB_SSLMODE = TABLE.later(DATABASES).value("db_sslmode",
            "PostgreSQL SSL mode",
            ValueType.choice("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
            "prefer", "--db_sslmode", "--db-sslmode");

    public static final Option<String> DB_REPLICA_HOST = TABLE.later(DATABASES).value("db_replica_host",
            "a read-only replica of db_host: the external API's read-only methods (search, read, ...) run there",
            ValueType.text(), null, "--db-replica-host", "--db_replica_host");

    public static final Option<Integer> DB_REPLICA_PORT = TABLE.later(DATABASES).value("db_replica_port",
            "the replica's port; default db_port",
            ValueType.port(true), null, "--db-replica-port", "--db_replica_port");

    public static final Option<Integer> DB_REPLICA_MAX_LAG = TABLE.later(DATABASES).value("db_replica_max_lag",
            "seconds the replica may replay behind the primary; further behind, or down, and read-only work goes to the "
                    + "primary until it has caught up (checked every second); 0 = no guard",
            ValueType.integer(0, 86_400, "seconds"), "0", "--db-replica-max-lag", "--db_replica_max_lag");

    public static final Option<String> DB_POOLER = TABLE.later(DATABASES).value("db_pooler",
            "what db_host and db_replica_host are: none (PostgreSQL itself), or a pooler in session or transaction mode (PgBouncer); "
                    + "with transaction, no statement stays prepared across transactions, each transaction sets its "
                    + "own isolation, and the notification listener connects to db_listen_host",
            ValueType.choice("none", "session", "transaction"), "none", "--db-pooler", "--db_pooler");

    public static final Option<String> DB_LISTEN_HOST = TABLE.later(DATABASES).value("db_listen_host",
            "host of the notification listener's one connection per process (LISTEN needs a session: PostgreSQL "
                    + "itself or a session-mode pool); default db_host",
            ValueType.text(), null, "--db-listen-host", "--db_listen_host");

    public static final Option<Integer> DB_LISTEN_PORT = TABLE.later(DATABASES).value("db_listen_port",
            "port of the notification listener's connection; default db_port",
            ValueType.port(true), null, "--db-listen-port", "--db_listen_port");

    public static final Option<Integer> DB_MAXCONN = TABLE.later(DATABASES).value("db_maxconn",
            "most PostgreSQL connections per process",
            ValueType.integer(1, 100_000, "connections"), "64", "--db_maxconn", "--db-maxconn");

    public static final Option<Boolean> DB_ALLOW_SUPERUSER = TABLE.flag("db_allow_superuser",
            "let Kiln connect to an external PostgreSQL as a superuser (refused otherwise: "
                    + "SQL reaching the server, from an addon or a restored backup, could then run programs on its host)",
            "--db-allow-superuser");

    public static final Option<String> DB_TEMPLATE = TABLE.later(DATABASES).value("db_template",
            "template for new databases",
            ValueType.text(), "template0", "--db-template", "--db_template");

    public static final Option<String> DBFILTER = TABLE.later(DATABASES).value("dbfilter",
            "regular expression a database name must match; %h = host, %d = subdomain",
            ValueType.text(), null, "--db-filter", "--db_filter");

    public static final Option<Boolean> LIST_DB = TABLE.later(DATABASES).negatingFlag("list_db",
            "hide the database list and manager", "True",
            "--no-database-list");

    public static final Option<String> ADMIN_PASSWD = TABLE.value("admin_passwd",
            "master password of the web database manager, clear or a $pbkdf2-sha512$ hash "
                    + "(-s writes the hash); unset = the web manager refuses every operation",
            ValueType.masterPassword(), null);

    /** Every row above, in their order (that of --help and the docs); it must come after them. */
    public static final List<Option<?>> ALL = TABLE.rows();

    private static final Map<String, Option<?>> BY_KEY = index();

    private Options() { }

    /** The row for {@code key}, or null when the table has none. */
    public static Option<?> find(String key) {
        return BY_KEY.get(key);
    }

    private static Map<String, Option<?>> index() {
        Map<String, Option<?>> m = new LinkedHashMap<>();
        for (Option<?> o : ALL) {
            if (m.put(o.key(), o) != null) {
                throw new IllegalStateException("option " + o.key() + " declared twice");
            }
        }
        return m;
    }

    /** Reads like the table it builds; later()/unsaved() apply to the next row only. */
    private static final class Table {
        private final List<Option<?>> rows = new ArrayList<>();
        private String later;
        private boolean saved = true;

        Table later(String issue) {
            later = issue;
            return this;
        }

        Table unsaved() {
            saved = false;
            return this;
        }

        <T> Option<T> value(String key, String help, ValueType<T> type, String dflt, String... flags) {
            return add(key, help, type, dflt, Option.Kind.VALUE, flags);
        }

        <T> Option<T> repeatable(String key, String help, ValueType<T> type, String dflt, String... flags) {
            return add(key, help, type, dflt, REPEATABLE, flags);
        }

        Option<Boolean> flag(String key, String help, String... flags) {
            return add(key, help, ValueType.bool(), "False", FLAG, flags);
        }

        Option<Boolean> negatingFlag(String key, String help, String dflt, String... flags) {
            return add(key, help, ValueType.bool(), dflt, NEGATING_FLAG, flags);
        }

        private <T> Option<T> add(String key, String help, ValueType<T> type, String dflt, Option.Kind kind,
                                  String... flags) {
            boolean save = saved && !key.equals("save") && !key.equals("config");
            Option<T> row = new Option<>(key, List.of(flags), type, dflt, help, later, kind, save);
            rows.add(row);
            later = null;
            saved = true;
            return row;
        }

        List<Option<?>> rows() {
            return List.copyOf(rows);
        }
    }
}
