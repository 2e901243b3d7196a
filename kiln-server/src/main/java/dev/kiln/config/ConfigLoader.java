package dev.kiln.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.kiln.failure.KilnException;

/**
 * Builds the effective {@link Config} from the four sources, each option independently:
 * command line, then environment ({@code KILN_<KEY>}), then config file ({@code [options]}), then
 * the table's default. The first source that gives an option decides it; its text is parsed by
 * the option's type, and a bad value stops the load with one line naming the option, the value
 * and where it came from. With {@code save}, the result is written back to the config file.
 */
public final class ConfigLoader {

    private static final Logger log = LoggerFactory.getLogger(ConfigLoader.class);

    /** Where a value came from, as messages say it ("--http-port", "/etc/kiln.conf:12: http_port"). */
    private record Given(String text, String where) { }

    /** An option's value as read, typed alike, so that {@code -s} can write it back unchanged. */
    private record Setting<T>(Option<T> option, T value) {
        String text() {
            return option.type().format(value);
        }
    }

    private final Map<String, List<String>> cli;
    private final Map<String, String> env;
    private final Path home;
    private final Map<String, Setting<?>> read = new LinkedHashMap<>();
    private IniFile ini;

    private ConfigLoader(Map<String, List<String>> cli, Map<String, String> env) {
        this.cli = cli;
        this.env = env;
        String h = env.get("HOME");
        this.home = Path.of(h != null && !h.isBlank() ? h : System.getProperty("user.home"));
    }

    /**
     * @param cli option key to the texts given on the command line (flags as "True"/"False");
     *            a repeatable option may have several
     * @param env the process environment (tests pass their own)
     */
    public static Config load(Map<String, List<String>> cli, Map<String, String> env) {
        return new ConfigLoader(cli, env).load();
    }

    /** The defaults alone, as if Kiln ran with no options, no environment and no config file. */
    public static Config defaults() {
        return load(Map.of(), Map.of("HOME", System.getProperty("user.home"), "KILN_RC", "False"));
    }

    private Config load() {
        boolean save = cli.containsKey("save");
        Path file = configFile();
        ini = readFile(file, save);
        if (file == null && save) {
            file = home.resolve(".kilnrc");
        }
        Config config = build(ini == null && !save ? null : file, save);
        if (save) {
            save(file);
        }
        return config;
    }

    /** -c, else $KILN_RC, else ~/.kilnrc; the last only counts if it exists, unless saving. */
    private Path configFile() {
        List<String> c = cli.get("config");
        if (c != null && !c.isEmpty()) {
            return parse(Options.CONFIG, new Given(c.getLast(), "--config"));
        }
        String rc = env.get("KILN_RC");
        if (rc != null && !rc.isBlank()) {
            return ValueType.isUnsetMarker(rc) ? null
                    : parse(Options.CONFIG, new Given(rc, "environment KILN_RC"));
        }
        return home.resolve(".kilnrc");
    }

    private IniFile readFile(Path file, boolean save) {
        if (file == null) {
            return null;
        }
        boolean explicit = cli.containsKey("config") || env.get("KILN_RC") != null;
        if (!Files.exists(file) && (save || !explicit)) {
            return null;
        }
        IniFile ini = IniFile.read(file);
        for (IniFile.Entry e : ini.options().values()) {
            Option<?> o = Options.find(e.key());
            if (o == null || !o.inFile()) {
                log.warn("{}:{}: unknown key '{}' ignored", file, e.line(), e.key());
            }
        }
        return ini;
    }

    private Given given(Option<?> o) {
        List<String> fromCli = cli.get(o.key());
        if (fromCli != null && !fromCli.isEmpty()) {
            String text = o.kind() == Option.Kind.REPEATABLE ? String.join(",", fromCli) : fromCli.getLast();
            return new Given(text, o.flag());
        }
        String fromEnv = o.inEnvironment() ? env.get(o.env()) : null;
        if (fromEnv != null && !fromEnv.isEmpty()) {
            return new Given(fromEnv, "environment " + o.env());
        }
        IniFile.Entry entry = ini == null ? null : ini.options().get(o.key());
        if (entry != null) {
            return new Given(entry.value(), ini.path() + ":" + entry.line() + ": " + o.key());
        }
        return new Given(defaultText(o), "default " + o.key());
    }

    /** The bundled addons (dist/addons, where bin/kiln says dist is) are the default addons path. */
    private static String defaultText(Option<?> o) {
        if (o.key().equals("addons_path")) {
            String dist = System.getProperty("kiln.dist");
            if (dist != null && Files.isDirectory(Path.of(dist, "addons"))) {
                return Path.of(dist, "addons").toString();
            }
        }
        return o.defaultValue() == null ? "False" : o.defaultValue();
    }

    /** The option's value from the first source that gives it; remembered for {@code -s}. */
    private <T> T value(Option<T> o) {
        T v = parse(o, given(o));
        read.put(o.key(), new Setting<>(o, v));
        return v;
    }

    private <T> T parse(Option<T> o, Given g) {
        try {
            return o.type().parse(g.text(), home);
        } catch (IllegalArgumentException e) {
            throw KilnException.usage(g.where() + " = '" + oneLine(g.text()) + "': " + e.getMessage());
        }
    }

    private static String oneLine(String s) {
        return s.replace("\n", "\\n");
    }

    /**
     * Java evaluates the arguments in order, and they follow the table's order, so when several
     * values are bad the message names the first in the table, as --help lists them.
     */
    private Config build(Path configFile, boolean save) {
        return new Config(
                configFile,
                save,
                value(Options.ADDONS_PATH),
                value(Options.SERVER_WIDE_MODULES),
                value(Options.HTTP_INTERFACE),
                value(Options.HTTP_PORT),
                value(Options.GEVENT_PORT),
                value(Options.METRICS_PORT),
                value(Options.HTTP_ENABLE),
                value(Options.PROXY_MODE),
                value(Options.WEBSOCKET_ALLOWED_ORIGINS),
                value(Options.DB_NAME),
                value(Options.INIT),
                value(Options.UPDATE),
                value(Options.STOP_AFTER_INIT),
                value(Options.WITH_DEMO),
                value(Options.WORKERS),
                value(Options.MAX_CRON_THREADS),
                value(Options.LIMIT_MEMORY_SOFT),
                value(Options.LIMIT_MEMORY_HARD),
                value(Options.LIMIT_TIME_CPU),
                value(Options.SHUTDOWN_DELAY),
                value(Options.LIMIT_TIME_REAL),
                value(Options.LIMIT_TIME_REAL_CRON),
                value(Options.LIMIT_REQUEST),
                value(Options.LIMIT_TIME_WORKER_CRON),
                value(Options.WORKER_HEAP),
                value(Options.WORKER_CONNECTIONS),
                value(Options.BUS_MAX_POLLS_PER_CLIENT),
                value(Options.BUS_MAX_POLLS_PER_DB),
                value(Options.DEV_MODE),
                value(Options.PIDFILE),
                value(Options.DATA_DIR),
                value(Options.LOG_LEVEL),
                value(Options.LOGFILE),
                value(Options.LOG_HANDLER),
                value(Options.DB_HOST),
                Objects.requireNonNullElse(value(Options.DB_PORT), 0),
                value(Options.DB_USER),
                value(Options.DB_PASSWORD),
                value(Options.DB_SSLMODE),
                value(Options.DB_REPLICA_HOST),
                Objects.requireNonNullElse(value(Options.DB_REPLICA_PORT), 0),
                value(Options.DB_REPLICA_MAX_LAG),
                value(Options.DB_POOLER),
                value(Options.DB_LISTEN_HOST),
                Objects.requireNonNullElse(value(Options.DB_LISTEN_PORT), 0),
                value(Options.DB_MAXCONN),
                value(Options.DB_ALLOW_SUPERUSER),
                value(Options.DB_TEMPLATE),
                value(Options.DBFILTER),
                value(Options.LIST_DB),
                value(Options.ADMIN_PASSWD));
    }

    private void save(Path file) {
        Map<String, String> text = new LinkedHashMap<>();
        for (Option<?> o : Options.ALL) {
            if (o.saved()) {
                text.put(o.key(), read.get(o.key()).text());
            }
        }
        IniFile.write(file, text, ini == null ? List.of() : ini.otherSections());
        log.info("configuration saved to {}", file);
    }
}
