package dev.kiln.api;

import java.sql.Connection;

/**
 * The database side of a request: which database it runs on and its transaction. Kiln commits the
 * transaction when the handler returns and rolls it back when the handler throws; a serialization
 * failure or deadlock runs the handler again (up to five times), so a handler must not act outside
 * the database before it returns.
 */
public interface Env {

    String database();

    /** The request's transaction (REPEATABLE READ); do not commit, roll back or close it. */
    Connection connection();
}
