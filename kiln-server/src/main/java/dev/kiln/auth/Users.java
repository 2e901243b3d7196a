package dev.kiln.auth;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.OptionalLong;

/**
 * The users of a database ({@code res_users}, created by the {@code base} addon): creating one and
 * checking a login. Passwords are stored as {@link Passwords} hashes only.
 */
public final class Users {

    /** Checked when the login does not exist, so a wrong login costs what a wrong password costs. */
    private static final String DUMMY = Passwords.hash("no such user");

    private Users() { }

    /** Creates an active user; returns its id. The login must be new. */
    public static long create(Connection connection, String login, String password, String name) throws SQLException {
        if (login == null || login.isBlank()) {
            throw new IllegalArgumentException("a user needs a login");
        }
        if (password == null || password.isEmpty()) {
            throw new IllegalArgumentException("user '" + login + "' needs a password");
        }
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO res_users (login, password, name) VALUES (?, ?, ?) RETURNING id")) {
            insert.setString(1, login);
            insert.setString(2, Passwords.hash(password));
            insert.setString(3, name == null || name.isBlank() ? login : name);
            try (ResultSet row = insert.executeQuery()) {
                row.next();
                return row.getLong(1);
            }
        }
    }

    /**
     * Spends the time of a password check that cannot succeed, for refusals decided before any
     * user is looked up (e.g. an unknown database), so they cost what a wrong password costs.
     */
    public static void refuse(String password) {
        Passwords.verify(password == null ? "" : password, DUMMY);
    }

    /** The id of the active user {@code login} when {@code password} is theirs; empty otherwise. */
    public static OptionalLong authenticate(Connection connection, String login, String password) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement(
                "SELECT id, password FROM res_users WHERE login = ? AND active")) {
            query.setString(1, login);
            try (ResultSet row = query.executeQuery()) {
                if (!row.next()) {
                    Passwords.verify(password == null ? "" : password, DUMMY);
                    return OptionalLong.empty();
                }
                long id = row.getLong(1);
                return Passwords.verify(password, row.getString(2)) ? OptionalLong.of(id) : OptionalLong.empty();
            }
        }
    }
}
