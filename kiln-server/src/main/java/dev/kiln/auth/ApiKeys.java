package dev.kiln.auth;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Users' API keys, Odoo's {@code res.users.apikeys} (table {@code res_users_apikeys}, created by the
 * {@code base} addon): 20 random bytes written as 40 hex digits, shown once when created, stored as
 * a PBKDF2-SHA512 hash of 6,000 rounds (a key has 160 random bits: no dictionary to slow down, as
 * in Odoo) beside its first 8 digits, which find the row. A key has a name, a scope (none: every
 * scope) and an optional expiry, and its user may revoke it. Accepted in place of the password on
 * the external API ({@link Users}) and as the bearer token of JSON-2.
 *
 * <p>A key checked once is remembered by the process ({@link Credentials}), which forgets it
 * when a key is revoked.
 */
public final class ApiKeys {

    /** The scope of the external API; a key without a scope serves every scope, as Odoo's. */
    public static final String RPC = "rpc";

    static final int ROUNDS = 6_000;
    private static final int KEY_BYTES = 20;
    private static final int INDEX_LENGTH = 8;
    /** The longest name or scope a key takes. */
    private static final int MAX_TEXT = 200;
    private static final Pattern SHAPE = Pattern.compile("[0-9a-f]{40}");
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Checked when no key matches, so a miss costs what a wrong key costs. */
    private static final String DUMMY = Passwords.hash("0".repeat(40), ROUNDS);

    private ApiKeys() { }

    /** A key just created: its row and the key itself, which is never shown again. */
    public record Created(long id, String key) { }

    /** A key as its user sees it later: everything but the key. */
    public record Listed(long id, String name, String scope, OffsetDateTime expires, OffsetDateTime created) { }

    /** Creates a key for {@code uid}; {@code scope} and {@code expires} may be null (every scope, no expiry). */
    public static Created create(Connection connection, long uid, String name, String scope, Instant expires) throws SQLException {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("an API key needs a name (what it is for)");
        }
        if (name.length() > MAX_TEXT || (scope != null && (scope.isBlank() || scope.length() > MAX_TEXT))) {
            throw new IllegalArgumentException("an API key's name and scope are at most " + MAX_TEXT + " characters");
        }
        if (expires != null && !expires.isAfter(Instant.now())) {
            throw new IllegalArgumentException("an API key's expiry must be in the future");
        }
        byte[] random = new byte[KEY_BYTES];
        RANDOM.nextBytes(random);
        String key = HexFormat.of().formatHex(random);
        try (PreparedStatement insert = connection.prepareStatement("""
                INSERT INTO res_users_apikeys (name, user_id, scope, expiration_date, "index", key)
                VALUES (?, ?, ?, ?, ?, ?) RETURNING id""")) {
            insert.setString(1, name.strip());
            insert.setLong(2, uid);
            insert.setString(3, scope);
            insert.setTimestamp(4, expires == null ? null : Timestamp.from(expires));
            insert.setString(5, key.substring(0, INDEX_LENGTH));
            insert.setString(6, Passwords.hash(key, ROUNDS));
            try (ResultSet id = insert.executeQuery()) {
                id.next();
                return new Created(id.getLong(1), key);
            }
        }
    }

    /** The id of the active user {@code login}; 0 when there is none. */
    public static long userId(Connection connection, String login) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement("SELECT id FROM res_users WHERE login = ? AND active")) {
            query.setString(1, login);
            try (ResultSet row = query.executeQuery()) {
                return row.next() ? row.getLong(1) : 0;
            }
        }
    }

    /** The keys of {@code uid}, oldest first. */
    public static List<Listed> list(Connection connection, long uid) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement("""
                SELECT id, name, scope, expiration_date, create_date FROM res_users_apikeys WHERE user_id = ? ORDER BY id""")) {
            query.setLong(1, uid);
            List<Listed> keys = new ArrayList<>();
            try (ResultSet row = query.executeQuery()) {
                while (row.next()) {
                    keys.add(new Listed(row.getLong(1), row.getString(2), row.getString(3),
                            row.getObject(4, OffsetDateTime.class), row.getObject(5, OffsetDateTime.class)));
                }
            }
            return keys;
        }
    }

    /** Revokes key {@code id} of {@code uid}; false when {@code uid} has no such key. */
    public static boolean revoke(Connection connection, long uid, long id) throws SQLException {
        try (PreparedStatement delete = connection.prepareStatement("DELETE FROM res_users_apikeys WHERE id = ? AND user_id = ?")) {
            delete.setLong(1, id);
            delete.setLong(2, uid);
            return delete.executeUpdate() == 1;
        }
    }

    /** Whether {@code text} has a key's shape: only such a text is looked up. */
    public static boolean plausible(String text) {
        return text != null && SHAPE.matcher(text).matches();
    }

    /**
     * The active user whose live key (unexpired, of no scope or of {@code scope}) {@code key} is,
     * and who is {@code uid} unless it is 0; 0 when there is none. A miss costs what a wrong key
     * costs.
     */
    public static long check(Connection connection, String database, String key, String scope, long uid) throws SQLException {
        Match match = match(connection, database, key, scope, uid);
        return match == null ? 0 : match.uid();
    }

    /** A live key found: whose, and until when (null: no expiry). */
    public record Match(long uid, Instant expires) { }

    /** {@link #check}, with the key's expiry; null when no key matches. */
    public static Match match(Connection connection, String database, String key, String scope, long uid) throws SQLException {
        if (!plausible(key)) {
            Passwords.verify(key == null ? "" : key, DUMMY);
            return null;
        }
        try (PreparedStatement query = connection.prepareStatement("""
                SELECT k.id, k.user_id, k.key, k.expiration_date FROM res_users_apikeys k JOIN res_users u ON u.id = k.user_id
                 WHERE u.active AND k."index" = ? AND (k.scope IS NULL OR k.scope = ?)
                   AND (k.expiration_date IS NULL OR k.expiration_date > now()) AND (? = 0 OR k.user_id = ?)""")) {
            query.setString(1, key.substring(0, INDEX_LENGTH));
            query.setString(2, scope);
            query.setLong(3, uid);
            query.setLong(4, uid);
            boolean any = false;
            try (ResultSet row = query.executeQuery()) {
                while (row.next()) {
                    any = true;
                    if (Passwords.verify(key, row.getString(3))) {
                        OffsetDateTime expires = row.getObject(4, OffsetDateTime.class);
                        return new Match(row.getLong(2), expires == null ? null : expires.toInstant());
                    }
                }
            }
            if (!any) {
                Passwords.verify(key, DUMMY);
            }
            return null;
        }
    }
}
