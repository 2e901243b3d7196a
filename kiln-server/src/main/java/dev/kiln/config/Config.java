package dev.kiln.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import dev.kiln.failure.KilnException;

/**
 * The effective configuration: immutable, validated when built (usually by {@link ConfigLoader},
 * which reads the command line, environment, config file and defaults as {@link Options} declares).
 * Accessor names are Odoo's configuration keys in camel case; sizes are bytes, times seconds.
 * Unset paths and strings are null; an unset {@code db_port} is 0. Settings that contradict each
 * other fail construction with a usage error naming both.
 */
public record Config(
        Path configFile,
        boolean save,
        List<Path> addonsPath,
        List<String> serverWideModules,
        String httpInterface,
        int httpPort,
        int geventPort,
        int metricsPort,
        boolean httpEnable,
        boolean proxyMode,
        List<String> websocketAllowedOrigins,
        List<String> dbName,
        List<String> init,
        List<String> update,
        boolean stopAfterInit,
        boolean withDemo,
        int workers,
        int maxCronThreads,
        long limitMemorySoft,
        long limitMemoryHard,
        int limitTimeCpu,
        int shutdownDelay,
        int limitTimeReal,
        int limitTimeRealCron,
        int limitRequest,
        int limitTimeWorkerCron,
        long workerHeap,
        int workerConnections,
        int busMaxPollsPerClient,
        int busMaxPollsPerDb,
        Set<String> devMode,
        Path pidfile,
        Path dataDir,
        String logLevel,
        Path logfile,
        List<String> logHandler,
        String dbHost,
        int dbPort,
        String dbUser,
        String dbPassword,
        String dbSslmode,
        String dbReplicaHost,
        int dbReplicaPort,
        int dbReplicaMaxLag,
        String dbPooler,
        String dbListenHost,
        int dbListenPort,
        int dbMaxconn,
        boolean dbAllowSuperuser,
        String dbTemplate,
        String dbfilter,
        boolean listDb,
        String adminPasswd) {

    public Config {
        addonsPath = copy(addonsPath);
        serverWideModules = copy(serverWideModules);
        websocketAllowedOrigins = copy(websocketAllowedOrigins);
        dbName = copy(dbName);
        init = copy(init);
        update = copy(update);
        logHandler = copy(logHandler);
        devMode = devMode == null ? Set.of() : Set.copyOf(devMode);
        if (limitMemorySoft > 0 && limitMemoryHard > 0 && limitMemorySoft > limitMemoryHard) {
            throw contradiction("limit_memory_soft", limitMemorySoft, "limit_memory_hard", limitMemoryHard,
                    "the soft limit must not exceed the hard one");
        }
        if (workers > 0 && httpEnable && httpPort != 0 && httpPort == geventPort) {
            throw contradiction("http_port", httpPort, "gevent_port", geventPort,
                    "in prefork mode (workers > 0) both servers listen, so the ports must differ");
        }
        if (metricsPort != 0 && (metricsPort == httpPort || metricsPort == geventPort)) {
            throw contradiction("metrics_port", metricsPort, metricsPort == httpPort ? "http_port" : "gevent_port",
                    metricsPort, "the metrics are served apart from the application, on a port of their own");
        }
    }

    /** Whether processes record metrics: some process serves them on {@code metrics_port}. */
    public boolean metrics() {
        return metricsPort > 0;
    }

    /** Whether {@code --dev} includes {@code mode} (reload, debug, access). */
    public boolean dev(String mode) {
        return devMode.contains(mode);
    }

    /** {@code limit_time_real_cron} as Odoo reads it: -1 means limit_time_real. */
    public int effectiveLimitTimeRealCron() {
        return limitTimeRealCron < 0 ? limitTimeReal : limitTimeRealCron;
    }

    private static <T> List<T> copy(List<T> list) {
        return list == null ? List.of() : List.copyOf(list);
    }

    private static KilnException contradiction(String a, Object va, String b, Object vb, String why) {
        return KilnException.usage(a + " = " + va + " contradicts " + b + " = " + vb + ": " + why);
    }
}
