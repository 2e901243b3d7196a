package dev.kiln.db;

import java.util.UUID;

/**
 * A database of a test class's own on the shared embedded PostgreSQL ({@link SharedPostgres}):
 * created by {@link #create}, dropped by {@link #close} with its pools and its handle on the server.
 */
public record ScratchDatabase(Postgres postgres, ConnectionPools pools, DatabaseManager manager, String name)
        implements AutoCloseable {

    /** A new empty database named {@code prefix_} and 8 random characters, with pools of at most {@code maxConnections}. */
    public static ScratchDatabase create(String prefix, int maxConnections) {
        Postgres postgres = SharedPostgres.attach();
        ConnectionPools pools = new ConnectionPools(postgres, maxConnections);
        DatabaseManager manager = new DatabaseManager(pools, "template0");
        String name = prefix + "_" + UUID.randomUUID().toString().substring(0, 8);
        manager.create(name);
        return new ScratchDatabase(postgres, pools, manager, name);
    }

    @Override
    public void close() {
        try {
            manager.drop(name);
        } finally {
            pools.close();
            postgres.close();
        }
    }
}
