package dev.kiln.config;

import static dev.kiln.config.Option.Kind.FLAG;
import static dev.kiln.config.Option.Kind.NEGATING_FLAG;
import static dev.kiln.config.Option.Kind.REPEATABLE;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * The option table: the one place where Kiln's options are declared. The command line
 * ({@code dev.kiln.cli}), the config file ({@link IniFile}), the environment ({@link ConfigLoader}),
 * {@code --help} and docs/options.md are all built from {@link #ALL}, so they cannot disagree.
 * Keys, flags, meanings and defaults are Odoo's unless the help says otherwise.
 */
public final class Options {

    // Later versions make these options take effect; until then they are parsed, validated and saved.
    private static final String DATABASES = "database support";

    private static final long MIB = 1024L * 1024;

    public static final List<Option> ALL = new Builder()
            .value("config", "path to the configuration file (default: $KILN_RC, else ~/.kilnrc if it exists)",
                    ValueType.path(), null, "-c", "--config")
            .flag("save", "write the effective configuration to the config file (mode 0600), then start",
                    "-s", "--save")
            .value("addons_path", "comma-separated folders holding addons (default: the bundled addons)",
                    ValueType.existingFolders(), "", "--addons-path")
            .value("server_wide_modules", "comma-separated server-wide addons, loaded without any database",
                    ValueType.names(), "base,web", "--load")
            .value("http_interface", "address the HTTP server listens on",
                    ValueType.text(), "127.0.0.1", "--http-interface")
            .value("http_port", "port the HTTP server listens on (0 = any free port)",
                    ValueType.port(false), "8069", "-p", "--http-port")
            .value("gevent_port", "port of the evented server: kiln evented, or the evented worker of prefork mode (websockets, long polling)",
                    ValueType.port(false), "8072", "--gevent-port")
            .negatingFlag("http_enable", "do not start the HTTP server", "True", "--no-http")
            .flag("proxy_mode", "trust X-Forwarded-* headers from a reverse proxy", "--proxy-mode")
            .value("websocket_allowed_origins", "comma-separated origins (https://app.example.com) whose pages may open "
                            + "the bus websocket besides the site's own; an upgrade from any other Origin is refused (403)",
                    ValueType.names(), "", "--websocket-allowed-origins")
            .later(DATABASES).value("db_name", "comma-separated databases to use (and preload)",
                    ValueType.names(), "", "-d", "--database")
            .later(DATABASES).unsaved().value("init", "comma-separated addons to install, then continue",
                    ValueType.names(), "", "-i", "--init")
            .later(DATABASES).unsaved().value("update", "comma-separated addons to update, then continue",
                    ValueType.names(), "", "-u", "--update")
            .unsaved().flag("stop_after_init", "stop the server after its initialization", "--stop-after-init")
            .value("workers", "number of worker processes; 0 = threaded mode",
                    ValueType.integer(0, 1024, "workers"), "0", "--workers")
            .value("max_cron_threads", "number of cron threads (or cron workers in prefork mode)",
                    ValueType.integer(0, 1024, "threads"), "2", "--max-cron-threads")
            .value("limit_memory_soft", "RSS above which a worker (or the threaded server) restarts "
                            + "gracefully; bytes or 512M/2G; 0 = no limit",
                    ValueType.bytes(), Long.toString(2048 * MIB), "--limit-memory-soft")
            .value("limit_memory_hard", "RSS above which a worker is stopped at once; bytes or 512M/2G; "
                            + "0 = no limit",
                    ValueType.bytes(), Long.toString(2560 * MIB), "--limit-memory-hard")
            .value("limit_time_cpu", "CPU seconds one request may use in a prefork HTTP worker; 0 = no limit",
                    ValueType.integer(0, Integer.MAX_VALUE, "seconds"), "60", "--limit-time-cpu")
            .value("limit_time_real", "seconds one request may take; 0 = no limit",
                    ValueType.integer(0, Integer.MAX_VALUE, "seconds"), "120", "--limit-time-real")
            .value("limit_time_real_cron", "seconds one cron job may take; -1 = limit_time_real, 0 = no limit",
                    ValueType.integer(-1, Integer.MAX_VALUE, "seconds"), "-1", "--limit-time-real-cron")
            .value("limit_request", "requests a worker serves before it is recycled",
                    ValueType.integer(1, Integer.MAX_VALUE, "requests"), "65536", "--limit-request")
            .value("limit_time_worker_cron", "seconds a cron worker lives before it is recycled; 0 = forever",
                    ValueType.integer(0, Integer.MAX_VALUE, "seconds"), "0", "--limit-time-worker-cron")
            .value("worker_heap", "Java heap of each prefork worker JVM (its -Xmx); bytes or 512M/2G",
                    ValueType.bytes(), Long.toString(512 * MIB), "--worker-heap")
            .value("worker_connections", "connections the evented server (kiln evented, or the prefork evented "
                            + "worker) serves at once; more wait in the kernel's queue",
                    ValueType.integer(1, 1_000_000, "connections"), "1000", "--worker-connections")
            .value("bus_max_polls_per_client", "long polls (/longpolling/poll) one client address may keep waiting at "
                            + "once, per process; one more is answered 429",
                    ValueType.integer(1, 1_000_000, "polls"), "64", "--bus-max-polls-per-client")
            .value("bus_max_polls_per_db", "long polls that may wait at once on one database, per process; one more "
                            + "is answered 429",
                    ValueType.integer(1, 1_000_000, "polls"), "4096", "--bus-max-polls-per-db")
            .value("dev_mode", "comma-separated developer modes: debug (error pages and JSON-RPC errors show the exception, "
                            + "stack trace, request and addon), access (log each refused login or access with its reason), "
                            + "reload, or all",
                    ValueType.choiceSet("access", "debug", "reload"), "", "--dev")
            .value("pidfile", "file to write the server's pid to (removed at exit)",
                    ValueType.path(), null, "--pidfile")
            .value("data_dir", "folder for sessions, attachments, the embedded PostgreSQL (postgres-15/) and compiled source addons (addons-cache/)",
                    ValueType.path(), "~/.local/share/kiln", "-D", "--data-dir")
            .value("log_level", "logging preset: " + String.join(", ", LogLevelNames.PRESETS),
                    ValueType.choice(LogLevelNames.PRESETS.toArray(String[]::new)), "info", "--log-level")
            .value("logfile", "file to append the log to (default: stderr)",
                    ValueType.path(), null, "--logfile")
            .repeatable("log_handler", "logger:LEVEL, repeatable; \":LEVEL\" sets the root logger; "
                            + "applied after --log-level",
                    ValueType.logHandlers(), ":INFO", "--log-handler")
            .later(DATABASES).value("db_host", "PostgreSQL host (default: the embedded PostgreSQL)",
                    ValueType.text(), null, "--db_host", "--db-host")
            .later(DATABASES).value("db_port", "PostgreSQL port",
                    ValueType.port(true), null, "--db_port", "--db-port")
            .later(DATABASES).value("db_user", "PostgreSQL user",
                    ValueType.text(), null, "-r", "--db_user", "--db-user")
            .later(DATABASES).value("db_password", "PostgreSQL password",
                    ValueType.text(), null, "-w", "--db_password", "--db-password")
            .later(DATABASES).value("db_sslmode", "PostgreSQL SSL mode",
                    ValueType.choice("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
                    "prefer", "--db_sslmode", "--db-sslmode")
            .later(DATABASES).value("db_maxconn", "most PostgreSQL connections per process",
                    ValueType.integer(1, 100_000, "connections"), "64", "--db_maxconn", "--db-maxconn")
            .flag("db_allow_superuser", "let Kiln connect to an external PostgreSQL as a superuser (refused otherwise: "
                    + "SQL reaching the server, from an addon or a restored backup, could then run programs on its host)",
                    "--db-allow-superuser")
            .later(DATABASES).value("db_template", "template for new databases",
                    ValueType.text(), "template0", "--db-template", "--db_template")
            .later(DATABASES).value("dbfilter", "regular expression a database name must match; %h = host, %d = subdomain",
                    ValueType.text(), null, "--db-filter", "--db_filter")
            .later(DATABASES).negatingFlag("list_db", "hide the database list and manager", "True",
                    "--no-database-list")
            .value("admin_passwd", "master password of the web database manager, clear or a $pbkdf2-sha512$ hash "
                            + "(-s writes the hash); unset = the web manager refuses every operation",
                    ValueType.masterPassword(), null)
            .build();

    private static final Map<String, Option> BY_KEY = index();

    private Options() { }

    public static Option byKey(String key) {
        Option o = BY_KEY.get(key);
        if (o == null) {
            throw new NoSuchElementException("no option " + key);
        }
        return o;
    }

    public static Option find(String key) {
        return BY_KEY.get(key);
    }

    private static Map<String, Option> index() {
        Map<String, Option> m = new LinkedHashMap<>();
        for (Option o : ALL) {
            if (m.put(o.key(), o) != null) {
                throw new IllegalStateException("option " + o.key() + " declared twice");
            }
        }
        return m;
    }

    /** Reads like the table it builds; later()/unsaved() apply to the next row only. */
    private static final class Builder {
        private final List<Option> rows = new ArrayList<>();
        private String later;
        private boolean saved = true;

        Builder later(String issue) {
            later = issue;
            return this;
        }

        Builder unsaved() {
            saved = false;
            return this;
        }

        Builder value(String key, String help, ValueType<?> type, String dflt, String... flags) {
            return add(key, help, type, dflt, Option.Kind.VALUE, flags);
        }

        Builder repeatable(String key, String help, ValueType<?> type, String dflt, String... flags) {
            return add(key, help, type, dflt, REPEATABLE, flags);
        }

        Builder flag(String key, String help, String... flags) {
            return add(key, help, ValueType.bool(), "False", FLAG, flags);
        }

        Builder negatingFlag(String key, String help, String dflt, String... flags) {
            return add(key, help, ValueType.bool(), dflt, NEGATING_FLAG, flags);
        }

        private Builder add(String key, String help, ValueType<?> type, String dflt, Option.Kind kind,
                            String... flags) {
            boolean save = saved && !key.equals("save") && !key.equals("config");
            rows.add(new Option(key, List.of(flags), type, dflt, help, later, kind, save));
            later = null;
            saved = true;
            return this;
        }

        List<Option> build() {
            return List.copyOf(rows);
        }
    }
}
