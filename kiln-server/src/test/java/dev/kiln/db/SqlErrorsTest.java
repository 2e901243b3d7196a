package dev.kiln.db;

import dev.kiln.db.DatabaseException.Reason;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.sql.SQLException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a PostgreSQL restart looks like to a client, named as such: every failure it goes through
 * (refused, starting up, in recovery, a session ended under it) is {@link Reason#UNREACHABLE}, one
 * line, so that the caller answers "try again later" rather than "failed".
 */
class SqlErrorsTest {

    private static final PgAddress SERVER = new PgAddress("localhost", 5432, "postgres", null, "disable");

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "08001 | Connection to localhost:5432 refused. Check that the hostname and port are correct",
            "08006 | An I/O error occurred while sending to the backend.",
            "57P01 | FATAL: terminating connection due to administrator command",
            "57P01 | FATAL: terminating connection due to unexpected postmaster exit",
            "57P02 | FATAL: terminating connection because of crash of another server process",
            "57P03 | FATAL: the database system is starting up",
            "57P03 | FATAL: the database system is in recovery mode",
            "57P03 | FATAL: the database system is shutting down"})
    void aServerRestartingIsUnreachableInOneLine(String state, String message) {
        DatabaseException checkout = SqlErrors.connectionFailure(new SQLException(message + "\n  Where: somewhere", state),
                "shop", SERVER);
        assertThat(checkout.reason()).isEqualTo(Reason.UNREACHABLE);
        assertThat(checkout.getMessage()).startsWith("cannot reach PostgreSQL at localhost:5432 for database 'shop': ")
                .doesNotContain("\n").doesNotContain("FATAL");

        DatabaseException statement = SqlErrors.statementFailure(new SQLException(message, state), "shop");
        assertThat(statement.reason()).isEqualTo(Reason.UNREACHABLE);
        assertThat(statement.getMessage()).doesNotContain("\n");
    }

    @Test
    void aFailureOfTheRequestItselfIsNotTheServers() {
        assertThat(SqlErrors.connectionFailure(new SQLException("FATAL: sorry, too many clients already", "53300"),
                "shop", SERVER).reason()).isEqualTo(Reason.FAILED);
        assertThat(SqlErrors.statementFailure(new SQLException("ERROR: division by zero", "22012"), "shop").reason())
                .isEqualTo(Reason.FAILED);
        assertThat(SqlErrors.isServerUnavailable(null)).isFalse();
    }
}
