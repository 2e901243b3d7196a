package dev.kiln.db;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Run in a child JVM by {@link EmbeddedPostgresTest}: opens the embedded server of a data dir and
 * prints what it got; with a second argument "hold", keeps it open until killed.
 */
public final class AttachMain {

    private AttachMain() { }

    public static void main(String[] args) {
        try (Postgres postgres = Postgres.startEmbedded(Path.of(args[0]))) {
            PgAddress address = postgres.await(Duration.ofSeconds(20));
            System.out.println("port=" + address.port() + " owner=" + postgres.ownsServer());
            System.out.flush();
            if (args.length > 1 && args[1].equals("hold")) {
                Thread.sleep(Long.MAX_VALUE);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (DatabaseException e) {
            System.out.println("error=" + e.getMessage());
        }
    }
}
