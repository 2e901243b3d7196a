package dev.kiln.db;

import dev.kiln.db.DatabaseException.Reason;

import java.sql.SQLException;

/** Turns what pgjdbc and HikariCP throw into one-line {@link DatabaseException}s. */
public final class SqlErrors {

    private SqlErrors() { }

    /** SQLSTATEs Odoo retries a transaction on: serialization failure, deadlock, lock not available. */
    public static boolean isConcurrencyFailure(SQLException e) {
        String state = e.getSQLState();
        return "40001".equals(state) || "40P01".equals(state) || "55P03".equals(state);
    }

    /**
     * Whether {@code state} says the server, not the request, is the trouble: 08xxx (no connection,
     * or it broke), 57P01 (the server ended the session: an administrator's command, a shutdown, or
     * its postmaster died), 57P02 (a crash of another server process) or 57P03 (starting up, in
     * recovery, shutting down). A restart of PostgreSQL goes through all of them; the request may
     * succeed once it is back.
     */
    public static boolean isServerUnavailable(String state) {
        return state != null && (state.startsWith("08") || state.equals("57P01") || state.equals("57P02")
                || state.equals("57P03"));
    }

    /** A failure to get a connection to {@code database} on {@code server}. */
    static DatabaseException connectionFailure(Throwable thrown, String database, PgAddress server) {
        SQLException sql = rootSqlException(thrown);
        String state = sql == null ? null : sql.getSQLState();
        if ("3D000".equals(state)) {
            return new DatabaseException(Reason.NO_SUCH_DATABASE,
                    "database '" + database + "' does not exist on " + server.hostAndPort(), thrown);
        }
        if ("28P01".equals(state)) {
            return new DatabaseException(Reason.AUTHENTICATION,
                    "password authentication failed for user '" + server.effectiveUser() + "' on "
                            + server.hostAndPort() + ": check db_user and db_password", thrown);
        }
        if (state != null && state.startsWith("28")) {
            return new DatabaseException(Reason.AUTHENTICATION,
                    "PostgreSQL at " + server.hostAndPort() + " refused user '" + server.effectiveUser()
                            + "' for database '" + database + "': " + firstLine(sql), thrown);
        }
        if (state == null || isServerUnavailable(state)) {
            String why = sql != null ? firstLine(sql) : firstLine(thrown);
            return new DatabaseException(Reason.UNREACHABLE, "cannot reach PostgreSQL at " + server.hostAndPort()
                    + " for database '" + database + "': " + why, thrown);
        }
        return new DatabaseException(Reason.FAILED,
                "database '" + database + "': " + firstLine(sql), thrown);
    }

    /** A failure of a statement run on {@code database}. */
    static DatabaseException statementFailure(SQLException e, String database) {
        if ("3D000".equals(e.getSQLState())) {
            return new DatabaseException(Reason.NO_SUCH_DATABASE, "database '" + database + "' does not exist", e);
        }
        String state = e.getSQLState();
        if (isServerUnavailable(state)) {
            return new DatabaseException(Reason.UNREACHABLE, "database '" + database
                    + "': lost the connection to PostgreSQL (" + firstLine(e) + ")", e);
        }
        if (isConcurrencyFailure(e)) {
            return new DatabaseException(Reason.CONCURRENCY, "database '" + database + "': " + firstLine(e), e);
        }
        return new DatabaseException(Reason.FAILED, "database '" + database + "': " + firstLine(e), e);
    }

    /** The deepest SQLException in the cause chain carrying a SQLSTATE, else the first one. */
    public static SQLException rootSqlException(Throwable thrown) {
        SQLException found = null;
        for (Throwable t = thrown; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && (found == null || sql.getSQLState() != null)) {
                found = sql;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return found;
    }

    public static String firstLine(Throwable t) {
        String message = t.getMessage();
        if (message == null || message.isBlank()) {
            return t.getClass().getSimpleName();
        }
        String line = message.strip().lines().findFirst().orElse(message);
        line = line.startsWith("ERROR: ") || line.startsWith("FATAL: ") ? line.substring(7) : line;
        if (t instanceof SQLException sql && ("26000".equals(sql.getSQLState()) || "42P05".equals(sql.getSQLState()))
                && line.startsWith("prepared statement")) {
            // a named statement prepared on one server session and used on another: a pooler in transaction mode
            line += " (is db_host a pooler in transaction mode, such as PgBouncer's? set db_pooler = transaction)";
        }
        return line;
    }
}
