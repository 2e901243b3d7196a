package dev.kiln.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.kiln.auth.Passwords;
import dev.kiln.failure.KilnException;

class ConfigLoaderTest {

    private static final long MIB = 1024L * 1024;

    @TempDir
    Path home;

    private final Map<String, String> env = new HashMap<>();
    private final ListAppender<ILoggingEvent> warnings = new ListAppender<>();

    @BeforeEach
    void isolateFromTheRealHome() {
        env.put("HOME", home.toString());
        warnings.start();
        ((Logger) LoggerFactory.getLogger(ConfigLoader.class)).addAppender(warnings);
    }

    @AfterEach
    void detachCapture() {
        ((Logger) LoggerFactory.getLogger(ConfigLoader.class)).detachAppender(warnings);
    }

    private Config load(Object... keyThenValues) {
        Map<String, List<String>> cli = new LinkedHashMap<>();
        for (int i = 0; i < keyThenValues.length; i += 2) {
            Object v = keyThenValues[i + 1];
            cli.put((String) keyThenValues[i], v instanceof List<?> l ? l.stream().map(String::valueOf).toList()
                    : List.of(String.valueOf(v)));
        }
        return ConfigLoader.load(cli, env);
    }

    private Path file(String... lines) throws IOException {
        Path f = home.resolve("kiln.conf");
        Files.write(f, List.of(lines));
        return f;
    }

    private static String usageMessage(Runnable r) {
        try {
            r.run();
        } catch (KilnException e) {
            assertThat(e.exitCode()).isEqualTo(KilnException.USAGE);
            assertThat(e.getMessage()).doesNotContain("\n");
            return e.getMessage();
        }
        throw new AssertionError("expected a usage error");
    }

    @Test
    void defaultsAreOdoosDefaults() {
        Config c = load();
        assertThat(c.httpInterface()).isEqualTo("127.0.0.1");
        assertThat(c.httpPort()).isEqualTo(8069);
        assertThat(c.geventPort()).isEqualTo(8072);
        assertThat(c.httpEnable()).isTrue();
        assertThat(c.proxyMode()).isFalse();
        assertThat(c.serverWideModules()).containsExactly("base", "web");
        assertThat(c.workers()).isZero();
        assertThat(c.maxCronThreads()).isEqualTo(2);
        assertThat(c.limitMemorySoft()).isEqualTo(2048 * MIB);
        assertThat(c.limitMemoryHard()).isEqualTo(2560 * MIB);
        assertThat(c.limitTimeCpu()).isEqualTo(60);
        assertThat(c.limitTimeReal()).isEqualTo(120);
        assertThat(c.limitTimeRealCron()).isEqualTo(-1);
        assertThat(c.effectiveLimitTimeRealCron()).isEqualTo(120);
        assertThat(c.limitRequest()).isEqualTo(65536);
        assertThat(c.limitTimeWorkerCron()).isZero();
        assertThat(c.devMode()).isEmpty();
        assertThat(c.dataDir()).isEqualTo(home.resolve(".local/share/kiln"));
        assertThat(c.logLevel()).isEqualTo("info");
        assertThat(c.logHandler()).containsExactly(":INFO");
        assertThat(c.dbHost()).isNull();
        assertThat(c.dbPort()).isZero();
        assertThat(c.dbSslmode()).isEqualTo("prefer");
        assertThat(c.dbMaxconn()).isEqualTo(64);
        assertThat(c.dbTemplate()).isEqualTo("template0");
        assertThat(c.listDb()).isTrue();
        assertThat(c.configFile()).isNull();
        assertThat(c.save()).isFalse();
    }

    @Test
    void cliBeatsEnvironmentBeatsFileBeatsDefault() throws IOException {
        Path f = file("[options]", "http_port = 1001", "limit_time_real = 1002", "workers = 3");
        env.put("KILN_HTTP_PORT", "2001");
        env.put("KILN_LIMIT_TIME_REAL", "2002");
        Config c = load("config", f, "http_port", 3001);
        assertThat(c.httpPort()).as("command line").isEqualTo(3001);
        assertThat(c.limitTimeReal()).as("environment").isEqualTo(2002);
        assertThat(c.workers()).as("file").isEqualTo(3);
        assertThat(c.limitTimeCpu()).as("default").isEqualTo(60);
        assertThat(c.configFile()).isEqualTo(f);
    }

    @Test
    void environmentVariablesAreKilnAndTheKeyInCapitals() {
        env.put("KILN_DB_HOST", "db.example");
        env.put("KILN_DB_PORT", "5433");
        env.put("KILN_LIMIT_MEMORY_SOFT", "512M");
        env.put("KILN_HTTP_ENABLE", "False");
        env.put("KILN_SERVER_WIDE_MODULES", "base,web,bus");
        Config c = load();
        assertThat(c.dbHost()).isEqualTo("db.example");
        assertThat(c.dbPort()).isEqualTo(5433);
        assertThat(c.limitMemorySoft()).isEqualTo(512 * MIB);
        assertThat(c.httpEnable()).isFalse();
        assertThat(c.serverWideModules()).containsExactly("base", "web", "bus");
    }

    @Test
    void kilnRcNamesTheConfigFileAndHomeKilnrcIsTheFallback() throws IOException {
        Files.write(home.resolve(".kilnrc"), List.of("[options]", "http_port = 7001"));
        assertThat(load().httpPort()).isEqualTo(7001);
        assertThat(load().configFile()).isEqualTo(home.resolve(".kilnrc"));
        env.put("KILN_RC", file("[options]", "http_port = 7002").toString());
        assertThat(load().httpPort()).isEqualTo(7002);
    }

    @Test
    void aMissingNamedConfigFileIsAUsageError() {
        Path missing = home.resolve("absent.conf");
        assertThat(usageMessage(() -> load("config", missing))).isEqualTo(missing + ": config file not found");
    }

    @Test
    void anUnreadableConfigFileIsAUsageErrorNamingIt() throws IOException {
        Path folder = Files.createDirectory(home.resolve("folder.conf"));
        assertThat(usageMessage(() -> load("config", folder))).startsWith(folder + ": cannot read config file");
    }

    @Test
    void aBadValueInTheFileNamesFileLineKeyAndValue() throws IOException {
        Path f = file("[options]", "# limits", "limit_time_real = soon");
        assertThat(usageMessage(() -> load("config", f)))
                .isEqualTo(f + ":3: limit_time_real = 'soon': expected a whole number of seconds >= 0");
    }

    @Test
    void aBadValueInTheEnvironmentNamesTheVariable() {
        env.put("KILN_WORKERS", "many");
        assertThat(usageMessage(this::load))
                .isEqualTo("environment KILN_WORKERS = 'many': expected a whole number of workers from 0 to 1024");
    }

    @Test
    void aLineOutsideAnySectionIsAnErrorWithFileAndLine() throws IOException {
        Path f = file("", "http_port = 8070", "[options]");
        assertThat(usageMessage(() -> load("config", f)))
                .isEqualTo(f + ":2: 'http_port = 8070' comes before any [section]; start the file with [options]");
    }

    @Test
    void aLineWithoutEqualsIsAnErrorWithFileAndLine() throws IOException {
        Path f = file("[options]", "http_port 8070");
        assertThat(usageMessage(() -> load("config", f))).isEqualTo(f + ":2: 'http_port 8070' is not key = value");
    }

    @Test
    void aKeyGivenTwiceIsAnErrorNamingBothLines() throws IOException {
        Path f = file("[options]", "http_port = 1", "http_port = 2");
        assertThat(usageMessage(() -> load("config", f))).isEqualTo(f + ":3: http_port is already set on line 2");
    }

    @Test
    void anUnknownKeyIsIgnoredWithAWarningNamingFileAndLine() throws IOException {
        Path f = file("[options]", "http_port = 8070", "longpolling_port = 8072");
        assertThat(load("config", f).httpPort()).isEqualTo(8070);
        assertThat(warnings.list).extracting(ILoggingEvent::getFormattedMessage)
                .containsExactly(f + ":3: unknown key 'longpolling_port' ignored");
    }

    @Test
    void otherSectionsAndOdoosSpellingsAreAccepted() throws IOException {
        Path f = file("; Odoo writes False for unset values", "[options]", "db_host = False",
                "db_password: secret", "proxy_mode = True", "admin_list = x", "[misc]", "anything = goes");
        Config c = load("config", f);
        assertThat(c.dbHost()).isNull();
        assertThat(c.dbPassword()).isEqualTo("secret");
        assertThat(c.proxyMode()).isTrue();
    }

    @Test
    void memorySizesAcceptPlainBytesAndSuffixes() {
        assertThat(load("limit_memory_soft", "1048576").limitMemorySoft()).isEqualTo(MIB);
        assertThat(load("limit_memory_soft", "512M").limitMemorySoft()).isEqualTo(512 * MIB);
        assertThat(load("limit_memory_soft", "2048MiB").limitMemorySoft()).isEqualTo(2048 * MIB);
        assertThat(load("limit_memory_hard", "3G").limitMemoryHard()).isEqualTo(3072 * MIB);
        assertThat(load("limit_memory_soft", "64k").limitMemorySoft()).isEqualTo(64 * 1024);
        assertThat(usageMessage(() -> load("limit_memory_soft", "lots")))
                .isEqualTo("--limit-memory-soft = 'lots': expected a size in bytes (e.g. 2147483648, 512M, 2G)");
    }

    @Test
    void aSoftMemoryLimitAboveTheHardOneNamesBothSettings() {
        assertThat(usageMessage(() -> load("limit_memory_soft", "3G")))
                .isEqualTo("limit_memory_soft = 3221225472 contradicts limit_memory_hard = 2684354560: "
                        + "the soft limit must not exceed the hard one");
        assertThat(load("limit_memory_soft", "3G", "limit_memory_hard", "0").limitMemorySoft())
                .as("a hard limit of 0 means none").isEqualTo(3072 * MIB);
    }

    @Test
    void devAllMeansReloadDebugAndAccessAndUnknownModesAreRefused() {
        assertThat(load("dev_mode", "all").devMode()).isEqualTo(Set.of("reload", "debug", "access"));
        assertThat(load("dev_mode", "debug, reload").dev("debug")).isTrue();
        assertThat(usageMessage(() -> load("dev_mode", "reload,qweb")))
                .isEqualTo("--dev = 'reload,qweb': unknown mode 'qweb'; expected access, debug, reload, replica or all");
    }

    @Test
    void everyAddonsPathFolderMustExist() throws IOException {
        Path a = Files.createDirectory(home.resolve("a"));
        Path missing = home.resolve("b");
        assertThat(load("addons_path", a + ", " + a).addonsPath()).containsExactly(a, a);
        assertThat(usageMessage(() -> load("addons_path", a + "," + missing)))
                .isEqualTo("--addons-path = '" + a + "," + missing + "': folder " + missing + " does not exist");
    }

    @Test
    void portsAndCountsAreRangeChecked() {
        assertThat(usageMessage(() -> load("http_port", "abc")))
                .isEqualTo("--http-port = 'abc': expected a port number from 0 to 65535");
        assertThat(usageMessage(() -> load("http_port", "70000")))
                .isEqualTo("--http-port = '70000': expected a port number from 0 to 65535");
        assertThat(usageMessage(() -> load("workers", "-1")))
                .isEqualTo("--workers = '-1': expected a whole number of workers from 0 to 1024");
        assertThat(usageMessage(() -> load("db_sslmode", "maybe")))
                .isEqualTo("--db_sslmode = 'maybe': expected one of disable, allow, prefer, require, verify-ca, verify-full");
        assertThat(usageMessage(() -> load("log_handler", List.of("dev.kiln:LOUD"))))
                .startsWith("--log-handler = 'dev.kiln:LOUD': expected logger:LEVEL");
    }

    @Test
    void httpAndGeventPortsMustDifferInPreforkMode() {
        assertThat(usageMessage(() -> load("workers", 2, "http_port", 8072)))
                .isEqualTo("http_port = 8072 contradicts gevent_port = 8072: "
                        + "in prefork mode (workers > 0) both servers listen, so the ports must differ");
    }

    @Test
    void repeatedLogHandlersAccumulate() {
        assertThat(load("log_handler", List.of(":WARNING", "dev.kiln.http:DEBUG")).logHandler())
                .containsExactly(":WARNING", "dev.kiln.http:DEBUG");
    }

    @Test
    void saveWritesMode0600AtomicallyAndTheFileLoadsBackToTheSameConfig() throws IOException {
        Path f = home.resolve("etc/kiln.conf");
        Config saved = load("config", f, "save", "True", "http_port", 8070, "dev_mode", "all",
                "log_handler", List.of(":WARNING", "dev.kiln:DEBUG"), "db_host", "db", "db_port", 5433,
                "limit_memory_soft", "1G", "dbfilter", "^%d$", "proxy_mode", "True", "list_db", "False",
                "pidfile", home.resolve("kiln.pid"));
        assertThat(Files.getPosixFilePermissions(f)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(Files.readAllLines(f)).first().isEqualTo("[options]");
        assertThat(Files.list(f.getParent())).as("no temporary file left").containsExactly(f);
        Config reloaded = load("config", f);
        assertThat(reloaded).isEqualTo(new Config(saved.configFile(), false, saved.addonsPath(),
                saved.serverWideModules(), saved.httpInterface(), saved.httpPort(), saved.geventPort(), saved.metricsPort(),
                saved.httpEnable(), saved.proxyMode(), saved.websocketAllowedOrigins(), saved.dbName(), saved.init(), saved.update(),
                saved.stopAfterInit(), saved.withDemo(), saved.workers(), saved.maxCronThreads(), saved.limitMemorySoft(),
                saved.limitMemoryHard(), saved.limitTimeCpu(), saved.shutdownDelay(), saved.limitTimeReal(), saved.limitTimeRealCron(),
                saved.limitRequest(), saved.limitTimeWorkerCron(), saved.workerHeap(), saved.workerConnections(),
                saved.busMaxPollsPerClient(), saved.busMaxPollsPerDb(), saved.devMode(), saved.pidfile(),
                saved.dataDir(), saved.logLevel(), saved.logfile(), saved.logHandler(), saved.dbHost(),
                saved.dbPort(), saved.dbUser(), saved.dbPassword(), saved.dbSslmode(), saved.dbReplicaHost(), saved.dbReplicaPort(), saved.dbReplicaMaxLag(), saved.dbPooler(), saved.dbListenHost(), saved.dbListenPort(), saved.dbMaxconn(), saved.dbAllowSuperuser(),
                saved.dbTemplate(), saved.dbfilter(), saved.listDb(), saved.adminPasswd()));
    }

    @Test
    void saveWritesTheMasterPasswordHashedNeverInClearAndTheHashStillVerifies() throws IOException {
        Path f = home.resolve("etc/master.conf");
        Config saved = load("config", f, "save", "True", "admin_passwd", "s3cret master");
        assertThat(saved.adminPasswd()).isEqualTo("s3cret master");
        String file = Files.readString(f);
        assertThat(file).doesNotContain("s3cret").contains("admin_passwd = $pbkdf2-sha512$");
        Config reloaded = load("config", f);
        assertThat(Passwords.verify("s3cret master", reloaded.adminPasswd())).isTrue();
    }

    @Test
    void saveWritesEverySavedKeyButNeverOneShotActions() throws IOException {
        Path f = home.resolve("kiln.conf");
        load("config", f, "save", "True", "init", "hello", "stop_after_init", "True");
        String text = Files.readString(f);
        for (Option<?> o : Options.ALL) {
            if (o.saved()) {
                assertThat(text).contains("\n" + o.key() + " = ");
            } else {
                assertThat(text).doesNotContain("\n" + o.key() + " =");
            }
        }
        assertThat(text).doesNotContain("init =").doesNotContain("stop_after_init");
    }

    @Test
    void saveWithoutAConfigFileWritesHomeKilnrcAndKeepsOtherSections() throws IOException {
        Files.write(home.resolve(".kilnrc"), List.of("[options]", "workers = 2", "[misc]", "note = kept"));
        Config c = load("save", "True", "http_port", 8071);
        Path rc = home.resolve(".kilnrc");
        assertThat(c.configFile()).isEqualTo(rc);
        assertThat(Files.readString(rc)).contains("workers = 2\n", "http_port = 8071\n", "[misc]\nnote = kept\n");
        assertThat(Files.getPosixFilePermissions(rc)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
    }

    @Test
    void everyOptionButTheMasterPasswordHasAFlagAndEachHasHelpAndAParsableDefault() {
        for (Option<?> o : Options.ALL) {
            if (o.key().equals("admin_passwd")) {
                assertThat(o.flags()).as("a secret stays off the command line, where ps shows it").isEmpty();
            } else {
                assertThat(o.flags()).as(o.key()).isNotEmpty();
            }
            assertThat(o.help()).as(o.key()).isNotBlank().doesNotContain("\n");
            if (o.defaultValue() != null) {
                o.type().parse(o.defaultValue(), home);
            }
        }
    }
}
