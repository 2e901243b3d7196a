package dev.kiln.db;

import dev.kiln.db.DatabaseException.Reason;
import dev.kiln.metrics.KilnMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;

/**
 * Runs work in one database transaction, Odoo's way: commit when the work returns, roll back when it
 * throws, and when PostgreSQL reports a concurrency failure (SQLSTATE 40001 serialization failure,
 * 40P01 deadlock, 55P03 lock not available) run it again on a fresh connection, up to
 * {@value #MAX_TRIES} tries in all, waiting a random time of up to 2^try seconds between tries.
 * The work must therefore be safe to run again: no side effects outside the transaction.
 */
public final class Transactions {

    /** Odoo's MAX_TRIES_ON_CONCURRENCY_FAILURE. */
    public static final int MAX_TRIES = 5;
    private static final Transactions ODOO = new Transactions(MAX_TRIES, Duration.ofSeconds(1));
    private static final Logger LOG = LoggerFactory.getLogger(Transactions.class);

    /** The body of a transaction; it must not commit, roll back or close the connection itself. */
    @FunctionalInterface
    public interface Work<T> {
        T run(Connection connection) throws SQLException;
    }

    private final int maxTries;
    private final Duration backoffUnit;

    /** A policy of {@code maxTries} tries, waiting up to 2^try × {@code backoffUnit} after a failed try. */
    public Transactions(int maxTries, Duration backoffUnit) {
        if (maxTries < 1) {
            throw new IllegalArgumentException("maxTries must be at least 1, not " + maxTries);
        }
        this.maxTries = maxTries;
        this.backoffUnit = backoffUnit;
    }

    /** {@code work} in a REPEATABLE READ transaction on {@code database}, with Odoo's retries. */
    public static <T> T inTransaction(ConnectionPools pools, String database, Work<T> work) {
        return ODOO.run(pools, database, Isolation.REPEATABLE_READ, work);
    }

    /** {@code work} in a transaction of {@code isolation} on {@code database}, with Odoo's retries. */
    public static <T> T inTransaction(ConnectionPools pools, String database, Isolation isolation, Work<T> work) {
        return ODOO.run(pools, database, isolation, work);
    }

    /**
     * A request's {@code work}: REPEATABLE READ with Odoo's retries, on a {@link ReleasableConnection},
     * which takes a pooled connection only when the work first runs SQL and which a long poll gives
     * back while it waits. A pool that has no connection to give fails inside the work, then.
     */
    public static <T> T inRequest(ConnectionPools pools, String database, Work<T> work) {
        return ODOO.run(pools, database, Isolation.REPEATABLE_READ, work, true);
    }

    /** {@code work} under this policy. SQL failures other than concurrency ones are not retried. */
    public <T> T run(ConnectionPools pools, String database, Isolation isolation, Work<T> work) {
        return run(pools, database, isolation, work, false);
    }

    private <T> T run(ConnectionPools pools, String database, Isolation isolation, Work<T> work, boolean releasable) {
        try {
            return retrying(database, null, () -> true, () -> {
                try (Connection connection = releasable ? ReleasableConnection.open(pools, database, isolation)
                        : pools.connection(database, isolation)) {
                    try {
                        T result = work.run(connection);
                        connection.commit();
                        return result;
                    } catch (SQLException | RuntimeException | Error e) {
                        rollbackQuietly(connection);
                        throw e;
                    }
                }
            });
        } catch (SQLException e) {
            throw SqlErrors.statementFailure(e, database);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("a transaction's work threw " + e, e);   // Work throws SQLException only
        }
    }

    /** One try of a unit of work: it opens (or reuses), commits or rolls back its transaction itself. */
    @FunctionalInterface
    public interface Attempt<T> {
        T run() throws Exception;
    }

    /**
     * Runs {@code attempt} until it returns, again after a concurrency failure (in the exception or
     * its causes) while {@code mayRetry} says so, up to this policy's tries: the retry loop of every
     * transaction Kiln runs, requests and cron calls alike. {@code what} names the work in the log
     * line of each retry (null: the database). Any other failure is thrown as it came; running out of tries throws a
     * {@link DatabaseException} of reason {@code CONCURRENCY}.
     */
    public <T> T retrying(String database, String what, BooleanSupplier mayRetry, Attempt<T> attempt) throws Exception {
        for (int tryNo = 1; ; tryNo++) {
            SQLException failure;
            try {
                return attempt.run();
            } catch (Exception e) {
                failure = SqlErrors.rootSqlException(e);
                if (failure == null || !SqlErrors.isConcurrencyFailure(failure) || !mayRetry.getAsBoolean()) {
                    throw e;
                }
            }
            if (tryNo >= maxTries) {
                throw new DatabaseException(Reason.CONCURRENCY, "database '" + database + "': gave up after "
                        + tryNo + " tries: " + SqlErrors.firstLine(failure), failure);
            }
            KilnMetrics.transactionRetried(database);
            long waitMillis = (long) (ThreadLocalRandom.current().nextDouble() * (1L << tryNo) * backoffUnit.toMillis());
            LOG.info("{}: {} (SQLSTATE {}), try {} of {} again in {} ms", what == null ? "database '" + database + "'" : what,
                    SqlErrors.firstLine(failure), failure.getSQLState(), tryNo + 1, maxTries, waitMillis);
            pause(waitMillis, database);
        }
    }

    /** Odoo's policy: {@value #MAX_TRIES} tries, up to 2^try seconds apart. */
    public static Transactions odoo() {
        return ODOO;
    }

    private static void rollbackQuietly(Connection connection) {
        try {
            connection.rollback();
        } catch (SQLException ignored) {
            // The pool rolls back on return too; a dead connection is dropped there.
        }
    }

    private static void pause(long millis, String database) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DatabaseException(Reason.CONCURRENCY, "database '" + database
                    + "': interrupted while waiting to retry a transaction", e);
        }
    }
}
