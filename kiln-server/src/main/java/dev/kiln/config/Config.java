package dev.kiln.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The effective configuration: immutable, validated when built by {@link ConfigLoader}.
 * Accessor names are Odoo's configuration keys in camel case; sizes are bytes, times seconds.
 */
public record Config(
        Path configFile,
        boolean save,
        List<Path> addonsPath,
        List<String> serverWideModules,
        String httpInterface,
        int httpPort,
        int geventPort,
        boolean httpEnable,
        boolean proxyMode,
        List<String> dbName,
        List<String> init,
        List<String> update,
        boolean stopAfterInit,
        int workers,
        int maxCronThreads,
        long limitMemorySoft,
        long limitMemoryHard,
        int limitTimeCpu,
        int limitTimeReal,
        int limitTimeRealCron,
        int limitRequest,
        int limitTimeWorkerCron,
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
        int dbMaxconn,
        String dbTemplate,
        String dbfilter,
        boolean listDb) {

    public boolean dev(String mode) {
        return devMode.contains(mode);
    }
}
