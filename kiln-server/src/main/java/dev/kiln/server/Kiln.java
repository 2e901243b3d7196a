package dev.kiln.server;

import dev.kiln.config.Config;

/** The seed's {@code start()}: placeholder until the threaded server lands. */
public final class Kiln {

    private Kiln() { }

    /** Starts the server described by {@code config} and returns the process exit code. */
    public static int start(Config config) {
        return 0;
    }
}
