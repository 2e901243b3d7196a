package dev.kiln.server;

import dev.kiln.KilnException;
import dev.kiln.config.Config;
import dev.kiln.os.OsException;
import org.eclipse.jetty.server.Handler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The seed's {@code start()}: load the server-wide addons, pick the server class for the mode, run
 * it, and when it stopped for a restart, exec this process again in place.
 */
public final class Kiln {

    private static final Logger LOG = LoggerFactory.getLogger(Kiln.class);

    private Kiln() { }

    /** Starts the server described by {@code config} and returns the process exit code. */
    public static int start(Config config) {
        throw new UnsupportedOperationException("wired when the HTTP application lands");
    }

    static int start(Config config, Handler application, RequestTracker tracker) {
        CommonServer server = new ThreadedServer(config, application, tracker);
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
}
