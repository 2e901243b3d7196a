package dev.kiln;

import dev.kiln.cli.KilnCommand;
import dev.kiln.logging.Logging;

/** The {@code kiln} command. */
public final class Main {

    private Main() { }

    public static void main(String[] args) {
        int code = KilnCommand.run(args);
        Logging.shutdown();
        System.exit(code);
    }
}
