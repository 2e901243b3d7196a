package dev.kiln.server;

import dev.kiln.KilnException;
import dev.kiln.addons.AddonLoader;
import dev.kiln.addons.LoadedAddons;
import dev.kiln.config.Config;
import dev.kiln.http.HttpOptions;
import dev.kiln.http.KilnApplication;
import dev.kiln.os.OsException;

/**
 * The seed's {@code start()}: load the server-wide addons, pick the server class for the mode, run
 * it, and when it stopped for a restart, exec this process again in place.
 */
public final class Kiln {

    private Kiln() { }

    /** Starts the server described by {@code config} and returns the process exit code. */
    public static int start(Config config) {
        LoadedAddons addons = AddonLoader.loadServerWide(config.addonsPath(), config.serverWideModules());
        KilnApplication application = new KilnApplication(addons, httpOptions(config));
        CommonServer server = new ThreadedServer(config, application);
        int rc = server.run();
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
}
