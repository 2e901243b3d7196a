package dev.kiln.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.kiln.KilnException;

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

    private final Map<String, List<String>> cli;
    private final Map<String, String> env;
    private final Path home;

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
        IniFile ini = readFile(file, save);
        if (file == null && save) {
            file = home.resolve(".kilnrc");
        }
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("config", ini == null && !save ? null : file);
        values.put("save", save);
        for (Option o : Options.ALL) {
            if (o.inFile()) {
                values.put(o.key(), parse(o, given(o, ini)));
            }
        }
        Config config = build(values);
        if (save) {
            save(file, values, ini);
        }
        return config;
    }

    /** -c, else $KILN_RC, else ~/.kilnrc; the last only counts if it exists, unless saving. */
    private Path configFile() {
        List<String> c = cli.get("config");
        if (c != null && !c.isEmpty()) {
            return (Path) parse(Options.byKey("config"), new Given(c.getLast(), "--config"));
        }
        String rc = env.get("KILN_RC");
        if (rc != null && !rc.isBlank()) {
            return ValueType.isUnsetMarker(rc) ? null
                    : (Path) parse(Options.byKey("config"), new Given(rc, "environment KILN_RC"));
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
            Option o = Options.find(e.key());
            if (o == null || !o.inFile()) {
                log.warn("{}:{}: unknown key '{}' ignored", file, e.line(), e.key());
            }
        }
        return ini;
    }

    private Given given(Option o, IniFile ini) {
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
    private static String defaultText(Option o) {
        if (o.key().equals("addons_path")) {
            String dist = System.getProperty("kiln.dist");
            if (dist != null && Files.isDirectory(Path.of(dist, "addons"))) {
                return Path.of(dist, "addons").toString();
            }
        }
        return o.defaultValue() == null ? "False" : o.defaultValue();
    }

    private Object parse(Option o, Given g) {
        try {
            return o.type().parse(g.text(), home);
        } catch (IllegalArgumentException e) {
            throw KilnException.usage(g.where() + " = '" + oneLine(g.text()) + "': " + e.getMessage());
        }
    }

    private static String oneLine(String s) {
        return s.replace("\n", "\\n");
    }

    @SuppressWarnings("unchecked")
    private static Config build(Map<String, Object> v) {
        Integer dbPort = (Integer) v.get("db_port");
        return new Config(
                (Path) v.get("config"),
                (Boolean) v.get("save"),
                (List<Path>) v.get("addons_path"),
                (List<String>) v.get("server_wide_modules"),
                (String) v.get("http_interface"),
                (Integer) v.get("http_port"),
                (Integer) v.get("gevent_port"),
                (Boolean) v.get("http_enable"),
                (Boolean) v.get("proxy_mode"),
                (List<String>) v.get("websocket_allowed_origins"),
                (List<String>) v.get("db_name"),
                (List<String>) v.get("init"),
                (List<String>) v.get("update"),
                (Boolean) v.get("stop_after_init"),
                (Integer) v.get("workers"),
                (Integer) v.get("max_cron_threads"),
                (Long) v.get("limit_memory_soft"),
                (Long) v.get("limit_memory_hard"),
                (Integer) v.get("limit_time_cpu"),
                (Integer) v.get("limit_time_real"),
                (Integer) v.get("limit_time_real_cron"),
                (Integer) v.get("limit_request"),
                (Integer) v.get("limit_time_worker_cron"),
                (Long) v.get("worker_heap"),
                (Integer) v.get("worker_connections"),
                (Integer) v.get("bus_max_polls_per_client"),
                (Integer) v.get("bus_max_polls_per_db"),
                (Set<String>) v.get("dev_mode"),
                (Path) v.get("pidfile"),
                (Path) v.get("data_dir"),
                (String) v.get("log_level"),
                (Path) v.get("logfile"),
                (List<String>) v.get("log_handler"),
                (String) v.get("db_host"),
                dbPort == null ? 0 : dbPort,
                (String) v.get("db_user"),
                (String) v.get("db_password"),
                (String) v.get("db_sslmode"),
                (Integer) v.get("db_maxconn"),
                (Boolean) v.get("db_allow_superuser"),
                (String) v.get("db_template"),
                (String) v.get("dbfilter"),
                (Boolean) v.get("list_db"),
                (String) v.get("admin_passwd"));
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private void save(Path file, Map<String, Object> values, IniFile previous) {
        Map<String, String> text = new LinkedHashMap<>();
        for (Option o : Options.ALL) {
            if (o.saved()) {
                text.put(o.key(), ((ValueType) o.type()).format(values.get(o.key())));
            }
        }
        IniFile.write(file, text, previous == null ? List.of() : previous.otherSections());
        log.info("configuration saved to {}", file);
    }
}
