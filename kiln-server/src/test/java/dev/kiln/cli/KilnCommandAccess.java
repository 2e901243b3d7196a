package dev.kiln.cli;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;

import dev.kiln.config.Config;

/** Lets tests in other packages build a Config from command-line arguments, or run a command in this JVM. */
public final class KilnCommandAccess {

    private KilnCommandAccess() { }

    public static int run(List<String> args, Map<String, String> env, PrintStream out, PrintStream err) {
        return KilnCommand.run(args.toArray(String[]::new), env, out, err);
    }

    public static Config config(List<String> args, Map<String, String> env) {
        return KilnCommand.config(args, env);
    }
}
