package dev.kiln.http;

import dev.kiln.api.OdooApi;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Odoo's {@code session_info()}: what {@code /web/session/authenticate} and
 * {@code /web/session/get_session_info} answer about the logged-in user, in Odoo's keys, so the
 * clients that read it (OdooRPC reads {@code user_context}) work unchanged. Kiln has no groups,
 * partners or companies yet: every user is an internal user, {@code is_admin} and
 * {@code is_system} are false, {@code partner_id} is null and no company is listed.
 */
final class SessionInfo {

    private SessionInfo() { }

    /** The session info of user {@code uid} of {@code db}; {@code csrfToken} is Kiln's token for its http routes. */
    static Map<String, Object> of(Connection connection, String db, long uid, String csrfToken) throws SQLException {
        String login;
        String name;
        try (PreparedStatement query = connection.prepareStatement("SELECT login, name FROM res_users WHERE id = ?")) {
            query.setLong(1, uid);
            try (ResultSet row = query.executeQuery()) {
                if (!row.next()) {
                    throw new SQLException("user " + uid + " vanished from res_users");
                }
                login = row.getString(1);
                name = row.getString(2);
            }
        }
        Map<String, Object> context = new LinkedHashMap<>();
        context.put("lang", "en_US");
        context.put("tz", "UTC");
        context.put("uid", uid);
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("uid", uid);
        info.put("is_system", false);
        info.put("is_admin", false);
        info.put("is_public", false);
        info.put("is_internal_user", true);
        info.put("user_context", context);
        info.put("db", db);
        info.put("server_version", OdooApi.VERSION);
        info.put("server_version_info", OdooApi.VERSION_INFO);
        info.put("name", name);
        info.put("username", login);
        info.put("partner_display_name", name);
        info.put("partner_id", null);
        info.put("csrf_token", csrfToken);
        return info;
    }
}
