package dev.kiln.models;

import dev.kiln.api.RpcFault;

import java.sql.SQLException;

/**
 * A constraint the database refused, said as Odoo says it: a {@code ValidationError} beginning
 * "The operation cannot be completed", never the SQL; a value a column cannot hold (a number out of
 * range) is the caller's {@code ValueError}. Anything else is left as it is: a serialization
 * failure or a deadlock is the unit of work's to run again.
 */
public final class Integrity {

    private Integrity() { }

    /** Throws the validation error for a broken constraint; returns {@code e} for anything else. */
    public static SQLException fault(SQLException e) {
        String state = e.getSQLState();
        if (state != null && state.startsWith("22")) {      // a value the column cannot hold: out of range, not text
            String said = String.valueOf(e.getMessage()).lines().findFirst().orElse("").replaceFirst("^ERROR: ", "");
            throw RpcFault.invalidValue("The value cannot be stored: " + said);
        }
        if (state == null || !state.startsWith("23")) {
            return e;
        }
        throw RpcFault.validationError("The operation cannot be completed: " + switch (state) {
            case "23502" -> "a required value is missing.";
            case "23503" -> "another record requires the record being deleted, or refers to a record that does not exist."
                    + " If possible, archive it instead.";
            case "23505" -> "a record with the same value already exists.";
            default -> "the values break a constraint of the model.";
        });
    }
}
