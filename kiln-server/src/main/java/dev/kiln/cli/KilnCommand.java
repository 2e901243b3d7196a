package dev.kiln.cli;

/** Placeholder until the picocli commands land. */
public final class KilnCommand {

    private KilnCommand() { }

    public static int run(String[] args) {
        return 0;
    }
}
