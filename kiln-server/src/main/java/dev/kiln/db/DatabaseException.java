package dev.kiln.db;

import dev.kiln.failure.KilnException;

/**
 * A failure of the database layer. The message is one line naming the database, user or server and
 * what to do; {@link #reason()} says which kind of failure it is, so that the HTTP and RPC layers can
 * choose a status without parsing messages. Exit code 1 when it ends a command.
 */
public final class DatabaseException extends KilnException {

    /** What went wrong, coarse enough to map onto HTTP statuses and JSON-RPC errors. */
    public enum Reason {
        /**
         * The server does not answer or cannot serve now: down, wrong host or port, starting up, in
         * recovery, shutting down, or it ended the session (see {@link SqlErrors#isServerUnavailable}).
         * Trying again later may succeed.
         */
        UNREACHABLE,
        /** The server refused the user or the password. */
        AUTHENTICATION,
        /** The named database does not exist. */
        NO_SUCH_DATABASE,
        /** A database of that name already exists. */
        ALREADY_EXISTS,
        /** The database name breaks Odoo's rule. */
        BAD_NAME,
        /** Every connection {@code db_maxconn} allows is in use and none came free in time. */
        POOL_EXHAUSTED,
        /** A serialization failure, deadlock or lock timeout persisted through every retry. */
        CONCURRENCY,
        /** pg_dump or pg_restore is missing or of an older major than the server. */
        CLIENT_TOOLS,
        /** Anything else the server or a client tool reported. */
        FAILED
    }

    private final Reason reason;

    public DatabaseException(Reason reason, String message) {
        super(FAILURE, message);
        this.reason = reason;
    }

    public DatabaseException(Reason reason, String message, Throwable cause) {
        super(FAILURE, message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
