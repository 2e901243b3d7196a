package dev.kiln.registry;

import dev.kiln.db.ConnectionPools;
import dev.kiln.db.Isolation;
import dev.kiln.db.Transactions;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.function.BooleanSupplier;

/**
 * One unit of work, the same for an addon's route, an external-API call and a cron call: a
 * transaction on one database whose body gets a {@link Scope} for the try it runs in. The body
 * names the {@link TransactionEnv} it hands the addon ({@link Scope#enter}); that env's before-commit
 * actions (the bus's rows) run inside the transaction, its after-commit actions (notifications)
 * once it committed, never for a try that rolled back. A serialization failure or deadlock runs the
 * body again with a fresh scope, under {@link Transactions}' policy: the body must have no effect
 * outside the transaction. The addon's code runs with its class loader as the thread's context
 * loader ({@link #asAddon}).
 *
 * <p>Where the connection comes from is the one difference between the three: a request takes a
 * pooled one at its first SQL ({@link #inRequest}), an external-API call a pooled one
 * ({@link #inTransaction}), a cron call the connection its runner holds and watches, committed
 * with the call's completion mark ({@link #onConnection}).
 */
public final class UnitOfWork {

    private UnitOfWork() { }

    /** The body of one try. */
    @FunctionalInterface
    public interface Body<T> {
        T run(Scope scope) throws Exception;
    }

    /** How a cron call commits: with its completion mark, in one round trip. */
    @FunctionalInterface
    public interface Commit<T> {
        void commit(Connection connection, T result) throws SQLException;
    }

    /** One try: its connection, and the env the body gave the addon. */
    public static final class Scope {
        private final Connection connection;
        private TransactionEnv env;

        private Scope(Connection connection) {
            this.connection = connection;
        }

        public Connection connection() {
            return connection;
        }

        /** {@code env} is the one this try's addon code works in: its actions run with the commit. */
        public <E extends TransactionEnv> E enter(E env) {
            this.env = env;
            return env;
        }

        private void beforeCommit() throws SQLException {
            if (env != null && env.of(connection)) {
                env.beforeCommit();
            }
        }

        private void afterCommit() {
            if (env != null) {
                env.afterCommit();
            }
        }
    }

    /**
     * A request's work: REPEATABLE READ, on a connection taken at its first SQL (a long poll holds
     * none while it waits); {@code lastStep} runs after the env's before-commit actions, right
     * before the commit.
     */
    public static <T> T inRequest(ConnectionPools pools, String db, Body<T> body, Runnable lastStep) {
        Scope[] committed = new Scope[1];
        T result = Transactions.inRequest(pools, db, connection -> {
            Scope scope = new Scope(connection);
            T produced = runBody(body, scope);
            scope.beforeCommit();
            lastStep.run();
            committed[0] = scope;
            return produced;
        });
        committed[0].afterCommit();
        return result;
    }

    /** An external-API call's work: REPEATABLE READ on a pooled connection. */
    public static <T> T inTransaction(ConnectionPools pools, String db, Body<T> body) {
        Scope[] committed = new Scope[1];
        T result = Transactions.inTransaction(pools, db, Isolation.REPEATABLE_READ, connection -> {
            Scope scope = new Scope(connection);
            T produced = runBody(body, scope);
            scope.beforeCommit();
            committed[0] = scope;
            return produced;
        });
        committed[0].afterCommit();
        return result;
    }

    /**
     * A cron call's work on {@code connection}, which the caller holds (its backend is watched for
     * the time limit): rolled back after a failed try, committed by {@code commit}, tried again only
     * while {@code mayRetry} says so. {@code what} names the call in the log line of a retry.
     */
    public static <T> T onConnection(Connection connection, String db, String what, BooleanSupplier mayRetry,
                                     Body<T> body, Commit<T> commit) throws Exception {
        return Transactions.odoo().retrying(db, what, mayRetry, () -> {
            Scope scope = new Scope(connection);
            T produced;
            try {
                produced = body.run(scope);
                scope.beforeCommit();
                commit.commit(connection, produced);
            } catch (Exception | Error e) {
                rollbackQuietly(connection);
                throw e;
            }
            scope.afterCommit();      // committed: nothing after this point may roll it back or run it again
            return produced;
        });
    }

    /** Addon code: what it may throw is what {@link #asAddon} throws. */
    @FunctionalInterface
    public interface AddonCode<R, X extends Exception> {
        R call() throws X;
    }

    /**
     * Runs {@code call} with {@code loader} (an addon's; null: the current one) as the thread's
     * context class loader, so the libraries an addon bundles find their resources and services.
     */
    public static <R, X extends Exception> R asAddon(ClassLoader loader, AddonCode<R, X> call) throws X {
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        if (loader == null || loader == previous) {
            return call.call();
        }
        thread.setContextClassLoader(loader);
        try {
            return call.call();
        } finally {
            thread.setContextClassLoader(previous);
        }
    }

    /** A pooled or request connection's body: SQL and runtime failures pass as they are, a checked one wrapped. */
    private static <T> T runBody(Body<T> body, Scope scope) throws SQLException {
        try {
            return body.run(scope);
        } catch (SQLException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new UnitFailure(e);
        }
    }

    private static void rollbackQuietly(Connection connection) {
        try {
            connection.rollback();
        } catch (SQLException ignored) {
            // a broken connection is dropped by the pool when it comes back
        }
    }

    /** A checked exception out of a body that runs on a pooled connection: its cause is the body's own. */
    public static final class UnitFailure extends RuntimeException {
        UnitFailure(Exception cause) {
            super(cause.toString(), cause);
        }
    }
}
