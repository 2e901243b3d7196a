package dev.kiln;

/** The {@code kiln} command. */
public final class Main {

    private Main() { }

    public static void main(String[] args) {
        System.exit(dev.kiln.cli.KilnCommand.run(args));
    }
}
