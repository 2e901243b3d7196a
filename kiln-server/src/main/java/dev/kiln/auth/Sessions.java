package dev.kiln.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;

/**
 * Login sessions, stored in the database they belong to ({@code kiln_session}, created by the
 * {@code base} addon), so every process and host serving that database accepts them and they
 * survive restarts. All the SQL of sessions lives here.
 *
 * <p>A session is named by a random token of 32 bytes (URL-safe base64) that only the client
 * holds; the table keeps its SHA-256. A session ends after {@link #MAX_IDLE} without a request
 * (Odoo's seven days); {@code last_seen} is written at most once a {@link #TOUCH_EVERY}, not on
 * every request.
 */
public final class Sessions {

    public static final Duration MAX_IDLE = Duration.ofDays(7);
    public static final Duration TOUCH_EVERY = Duration.ofMinutes(1);

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Base64.Encoder TOKEN = Base64.getUrlEncoder().withoutPadding();

    /** A live session: its user, its CSRF token, and whether {@code last_seen} is due a write. */
    public record Session(long uid, String login, String csrfToken, boolean touchDue) { }

    /** A session just opened: the token for the cookie, and the session. */
    public record Opened(String token, Session session) { }

    private Sessions() { }

    /** Opens a session of {@code uid} in {@code db} (the connection's database). */
    public static Opened open(Connection connection, String db, long uid, String login) throws SQLException {
        String token = randomToken();
        String csrf = randomToken();
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO kiln_session (id, uid, db, csrf_secret) VALUES (?, ?, ?, ?)")) {
            insert.setString(1, digest(token));
            insert.setLong(2, uid);
            insert.setString(3, db);
            insert.setString(4, csrf);
            insert.executeUpdate();
        }
        return new Opened(token, new Session(uid, login, csrf, false));
    }

    /** The live session of {@code token} in {@code db}, if any (expired or of an inactive user: none). */
    public static Optional<Session> find(Connection connection, String db, String token) throws SQLException {
        if (!plausible(token)) {
            return Optional.empty();
        }
        try (PreparedStatement query = connection.prepareStatement("""
                SELECT s.uid, u.login, s.csrf_secret, s.last_seen < now() - make_interval(secs => ?)
                  FROM kiln_session s JOIN res_users u ON u.id = s.uid
                 WHERE s.id = ? AND s.db = ? AND u.active AND s.last_seen > now() - make_interval(secs => ?)""")) {
            query.setLong(1, TOUCH_EVERY.toSeconds());
            query.setString(2, digest(token));
            query.setString(3, db);
            query.setLong(4, MAX_IDLE.toSeconds());
            try (ResultSet row = query.executeQuery()) {
                return row.next()
                        ? Optional.of(new Session(row.getLong(1), row.getString(2), row.getString(3), row.getBoolean(4)))
                        : Optional.empty();
            }
        }
    }

    /** Records that the session of {@code token} was used now. */
    public static void touch(Connection connection, String token) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(
                "UPDATE kiln_session SET last_seen = now() WHERE id = ? AND last_seen < now()")) {
            update.setString(1, digest(token));
            update.executeUpdate();
        }
    }

    /** Ends the session of {@code token}, if it exists; also drops expired sessions of this database. */
    public static void close(Connection connection, String token) throws SQLException {
        try (PreparedStatement delete = connection.prepareStatement(
                "DELETE FROM kiln_session WHERE id = ? OR last_seen < now() - make_interval(secs => ?)")) {
            delete.setString(1, plausible(token) ? digest(token) : "");
            delete.setLong(2, MAX_IDLE.toSeconds());
            delete.executeUpdate();
        }
    }

    /** Compares a CSRF token in time independent of where they differ. */
    public static boolean csrfMatches(Session session, String token) {
        return token != null && MessageDigest.isEqual(session.csrfToken().getBytes(StandardCharsets.UTF_8),
                token.getBytes(StandardCharsets.UTF_8));
    }

    /** Could be a token Kiln made: URL-safe base64 of 32 bytes. */
    public static boolean plausible(String token) {
        if (token == null || token.length() != 43) {
            return false;
        }
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_')) {
                return false;
            }
        }
        return true;
    }

    /** 32 random bytes, base64url: a session token, or any other secret a client must echo. */
    public static String randomToken() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return TOKEN.encodeToString(bytes);
    }

    private static String digest(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.US_ASCII)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK always has SHA-256", e);
        }
    }
}
