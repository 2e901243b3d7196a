package dev.kiln.http;

import dev.kiln.auth.Sessions;

/**
 * The {@code session_id} cookie. Its value is {@code <database>.<token>}: sessions live in the
 * database they were opened in, so the cookie names that database, and the database is chosen
 * from it before any other hint. Database names may hold dots, tokens never do: the value is
 * split at its last dot.
 *
 * <p>Attributes: {@code Path=/; HttpOnly; SameSite=Lax}, {@code Max-Age} of the session's idle
 * limit (sent again whenever the session's last-seen time is written, so an active user's cookie
 * lives on), and {@code Secure} when the request came over HTTPS ({@link KilnRequest#secure}) —
 * directly, or as told by {@code X-Forwarded-Proto: https} under {@code --proxy-mode} only. The
 * request's cookie is read by {@link KilnRequest#sessionCookie}.
 */
record SessionCookie(String db, String token) {

    static final String NAME = "session_id";

    static SessionCookie parse(String value) {
        int dot = value == null ? -1 : value.lastIndexOf('.');
        if (dot <= 0) {
            return null;
        }
        String token = value.substring(dot + 1);
        return Sessions.plausible(token) ? new SessionCookie(value.substring(0, dot), token) : null;
    }

    /** The token when this cookie belongs to {@code database}, else null. */
    String tokenFor(String database) {
        return db.equals(database) ? token : null;
    }

    /** {@code Set-Cookie} value opening (or keeping alive) the session {@code token} of {@code db}. */
    static String set(String db, String token, boolean secure) {
        return NAME + "=" + db + "." + token + "; Max-Age=" + Sessions.MAX_IDLE.toSeconds()
                + "; Path=/; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : "");
    }

    /** The cookie of the login form's CSRF token, sent back only to the form's own POST. */
    static final String LOGIN_CSRF = "kiln_login_csrf";

    /** {@code Set-Cookie} value carrying the login form's CSRF token (double submit: the form holds it too). */
    static String loginCsrf(String token, boolean secure) {
        return LOGIN_CSRF + "=" + token + "; Path=/web/login; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : "");
    }

    /** {@code Set-Cookie} value removing the cookie. */
    static String clear(boolean secure) {
        return NAME + "=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : "");
    }
}
