package dev.kiln.cron;

import dev.kiln.addons.CronSpec;
import dev.kiln.addons.LoadedAddon;
import dev.kiln.api.CronContext;
import dev.kiln.cron.store.CronStore;
import dev.kiln.db.ConnectionPools;
import dev.kiln.registry.Registry;
import dev.kiln.registry.TransactionEnv;
import dev.kiln.registry.UnitOfWork;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * One call of a claimed job's code: in its own transaction on {@code work}, with the addon's class
 * loader as the thread's context loader, committed together with the call's completion mark, and
 * run again on a serialization failure or deadlock as a request is (the claim stays held
 * meanwhile). Shared by the runners and {@code kiln cron run}.
 */
final class CronCall {

    /** How a call ended: its last progress report, or the failure. */
    record Result(boolean ok, int done, int remaining, Throwable failure) {

        static Result failed(Throwable failure) {
            return new Result(false, 0, 0, failure);
        }
    }

    private CronCall() { }

    /**
     * @param reload      builds the database's registry again, when the job's code is not in {@code registry}
     * @param interrupted set by the watchdog when it interrupted the call at the time limit
     * @param mayRetry    false once the runner is stopping: a concurrency failure is not retried then
     */
    static Result run(ConnectionPools pools, String db, Registry registry, Supplier<Registry> reload, Connection work,
                      CronStore.Claimed job, AtomicBoolean interrupted, BooleanSupplier mayRetry, int limitSeconds) {
        CronSpec spec = registry.cron(job.code()).orElse(null);
        if (spec == null) {
            // the addon may have been installed by another process a moment ago, its registry not built yet
            registry = reload.get();
            spec = registry.cron(job.code()).orElse(null);
        }
        if (spec == null) {
            return Result.failed(new IllegalStateException("its code '" + job.code()
                    + "' is not among this database's addons (is its addon installed?)"));
        }
        ClassLoader loader = registry.addons().get(spec.addon()).map(LoadedAddon::classLoader).orElse(null);
        CronSpec found = spec;
        try {
            return UnitOfWork.asAddon(loader, () -> UnitOfWork.onConnection(work, db, db + ": cron job '" + job.name() + "'",
                    () -> !interrupted.get() && mayRetry.getAsBoolean(),
                    scope -> {
                        Context context = scope.enter(new Context(pools, db, scope.connection(), job));
                        found.job().task().run(context);
                        return new Result(true, context.done, context.remaining, null);
                    },
                    (connection, result) -> CronStore.completeAndCommit(connection, job, result.done(), result.remaining())));
        } catch (Throwable e) {
            if (interrupted.get()) {
                return Result.failed(new IllegalStateException("stopped at limit_time_real_cron (" + limitSeconds + " s)", e));
            }
            return Result.failed(e);
        } finally {
            Thread.interrupted();     // an interruption meant for the job ends with it
        }
    }

    /** The {@link CronContext} of one try of one call: a transaction's env that cannot poll the bus. */
    private static final class Context extends TransactionEnv implements CronContext {
        private final CronStore.Claimed job;
        int done;
        int remaining;

        Context(ConnectionPools pools, String database, Connection connection, CronStore.Claimed job) {
            super(pools, database, connection);
            this.job = job;
        }

        @Override
        public String job() {
            return job.name();
        }

        @Override
        public long jobId() {
            return job.id();
        }

        @Override
        public void progress(int done, int remaining) {
            if (done < 0 || remaining < 0) {
                throw new IllegalArgumentException("progress(" + done + ", " + remaining + "): counts cannot be negative");
            }
            this.done = done;
            this.remaining = remaining;
        }
    }
}
