package dev.kiln.http;

import dev.kiln.db.ConnectionPools;
import dev.kiln.db.SqlErrors;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a unit of work that only reads runs: on the replica ({@code db_replica_host}) while its lag
 * guard lets it, in a read-only transaction on the primary under {@code --dev=replica}, else on the
 * primary. Odoo's rule holds for both routes ({@code @Route(readonly = true)}) and external-API
 * methods: work that writes after all is refused there (SQLSTATE 25006) and runs again once on the
 * primary, with one warning. A user who wrote lately reads on the primary until the replica has
 * replayed that write ({@link ConnectionPools#readsOwnWritesOnPrimary}).
 */
final class ReadOnlyWork {

    private static final Logger LOG = LoggerFactory.getLogger(ReadOnlyWork.class);

    private ReadOnlyWork() {
    }

    /** One try of the work. */
    @FunctionalInterface
    interface Attempt<T> {
        /**
         * @param pools    where to run
         * @param readOnly begin with {@link #readOnly} ({@code --dev=replica}; a standby needs not)
         * @param primary  given on a replica: call {@link #stepAsideForOwnWrites} once the user is known
         */
        T run(ConnectionPools pools, boolean readOnly, ConnectionPools primary);
    }

    /**
     * Runs {@code attempt} where work that {@code readsOnly} belongs, as the class says; {@code what}
     * names it in the warning line ({@code db: res.partner.search}).
     */
    static <T> T run(ConnectionPools primary, boolean readsOnly, Supplier<String> what, Attempt<T> attempt) {
        Optional<ConnectionPools> replica = readsOnly ? primary.replica() : Optional.empty();
        boolean simulated = readsOnly && replica.isEmpty() && primary.readOnlyOnPrimary();
        if (replica.isEmpty() && !simulated) {
            return attempt.run(primary, false, null);
        }
        try {
            // a standby refuses writes by itself (marking its transactions read-only too cost it ~10% more
            // CPU on a one-query transaction, measured); on the primary (--dev=replica) the try says so itself
            return attempt.run(replica.orElse(primary), simulated, replica.isPresent() ? primary : null);
        } catch (OwnWrites recent) {
            return attempt.run(primary, false, null);
        } catch (RuntimeException e) {
            SQLException cause = SqlErrors.rootSqlException(e);
            if (cause == null || !"25006".equals(cause.getSQLState())) {
                throw e;
            }
            LOG.warn("{} wrote in a read-only transaction ({}); run again on the primary", what.get(),
                    simulated ? "--dev=replica" : "on the replica");
            return attempt.run(primary, false, null);
        }
    }

    /** Makes the transaction just begun on {@code connection} read-only (its first statement). */
    static void readOnly(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute("SET TRANSACTION READ ONLY");
        }
    }

    /**
     * On a replica ({@code primary} not null): leaves it for the primary when {@code uid} wrote
     * there lately and the replica has not replayed that write yet.
     */
    static void stepAsideForOwnWrites(ConnectionPools primary, String db, long uid) {
        if (primary != null && primary.readsOwnWritesOnPrimary(db, uid)) {
            throw new OwnWrites();
        }
    }

    /** Leaves the replica for the primary: what the try looks for may not have been replayed yet. */
    static void stepAside() {
        throw new OwnWrites();
    }

    /** A read-only try on the replica that must see the primary's latest: it runs there instead. */
    private static final class OwnWrites extends RuntimeException {
        OwnWrites() {
            super(null, null, false, false);
        }
    }
}
