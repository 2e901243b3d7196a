package dev.kiln.api;

import java.sql.Connection;
import java.time.Instant;

/**
 * The database side of a request or a cron job: which database it runs on and its transaction.
 * Kiln commits the transaction when the handler returns and rolls it back when it throws; a
 * serialization failure or deadlock runs the handler again (up to five times), so a handler must
 * not act outside the database before it returns.
 */
public interface Env {

    String database();

    /** The transaction (REPEATABLE READ); do not commit, roll back or close it. */
    Connection connection();

    /**
     * Asks for the cron job {@code job} ({@code <addon>.<name>}) to run at {@code at}, or as soon as
     * possible when {@code at} is null, Odoo's {@code _trigger}. The request is written in this
     * transaction: a rollback cancels it. When it is due, the cron runners of every Kiln process on
     * the database are woken once the transaction commits.
     *
     * @throws IllegalArgumentException when the database has no such job
     */
    void trigger(String job, Instant at);

    /**
     * The notification bus of this database: what is sent through it is written in this transaction
     * and delivered only after it commits; a rollback sends nothing.
     */
    Bus bus();

    /** {@link #trigger(String, Instant)} as soon as possible. */
    default void trigger(String job) {
        trigger(job, null);
    }
}
