package dev.kiln.models;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * SQL text with its bind parameters, built together so that every value is a parameter. The text
 * holds only fixed words and names checked against a model's declaration.
 */
final class Sql {

    private final StringBuilder text = new StringBuilder();
    private final List<Object> params = new ArrayList<>();

    Sql append(String fixed) {
        text.append(fixed);
        return this;
    }

    /** A {@code ?} bound to {@code value} (a String, Long, Double, Boolean, LocalDate, LocalDateTime, or a typed {@link Array}). */
    Sql param(Object value) {
        text.append('?');
        params.add(value);
        return this;
    }

    Sql append(Sql other) {
        text.append(other.text);
        params.addAll(other.params);
        return this;
    }

    String text() {
        return text.toString();
    }

    List<Object> params() {
        return params;
    }

    boolean isEmpty() {
        return text.isEmpty();
    }

    /** An array parameter: {@code = ANY(?)} keeps one statement whatever the number of values. */
    record Array(String sqlType, Object[] values) { }

    PreparedStatement prepare(Connection connection) throws SQLException {
        PreparedStatement statement = connection.prepareStatement(text.toString());
        try {
            for (int i = 0; i < params.size(); i++) {
                Object value = params.get(i);
                if (value instanceof Array array) {
                    statement.setArray(i + 1, connection.createArrayOf(array.sqlType(), array.values()));
                } else {
                    statement.setObject(i + 1, value);
                }
            }
            return statement;
        } catch (SQLException | RuntimeException e) {
            statement.close();
            throw e;
        }
    }

    @Override
    public String toString() {
        return text + " " + params;
    }
}
