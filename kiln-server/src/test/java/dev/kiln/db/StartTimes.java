package dev.kiln.db;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Prints how long one start of the embedded PostgreSQL takes in a fresh JVM, from
 * {@link Postgres#startEmbedded} to a server that answers: "cold" when the data dir is new (initdb
 * runs), "warm" when it was made before. The command that runs it is in docs/databases.md.
 */
public final class StartTimes {

    private StartTimes() { }

    public static void main(String[] args) {
        Path dataDir = Path.of(args[0]);
        boolean cold = !Files.exists(dataDir.resolve("postgres-15/PG_VERSION"));
        long begin = System.nanoTime();
        try (Postgres postgres = Postgres.startEmbedded(dataDir)) {
            postgres.await();
            System.out.printf("%s start: %d ms%n", cold ? "cold" : "warm", (System.nanoTime() - begin) / 1_000_000);
        }
    }
}
