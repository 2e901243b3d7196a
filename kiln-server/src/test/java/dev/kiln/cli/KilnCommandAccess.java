package dev.kiln.cli;

import java.util.List;
import java.util.Map;

import dev.kiln.config.Config;

/** Lets tests in other packages build a Config from command-line arguments. */
public final class KilnCommandAccess {

    private KilnCommandAccess() { }

    public static Config config(List<String> args, Map<String, String> env) {
        return KilnCommand.config(args, env);
    }
}
