package dev.kiln.auth;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The users of a database ({@code res_users}, created by the {@code base} addon): creating one and
 * checking a login. Passwords are stored as {@link Passwords} hashes only.
 */
public final class Users {

    /** Checked when the login does not exist, so a wrong login costs what a wrong password costs. */
    private static final String DUMMY = Passwords.hash("no such user");

    private Users() { }

    /** The groups of a database's administrator: internal user, settings, access rights, contact creation. */
    private static final String[] ADMINISTRATOR_GROUPS = {"base.group_user", "base.group_system", "base.group_erp_manager",
        "base.group_partner_manager"};

    /**
     * Creates the administrator of a new database: an active user with a contact of its name and
     * the administrator's groups; returns its id. The login must be new.
     */
    public static long createAdministrator(Connection connection, String login, String password, String name)
            throws SQLException {
        if (login == null || login.isBlank()) {
            throw new IllegalArgumentException("a user needs a login");
        }
        if (password == null || password.isEmpty()) {
            throw new IllegalArgumentException("user '" + login + "' needs a password");
        }
        String shown = name == null || name.isBlank() ? login : name;
        long partner;
        try (PreparedStatement insert = connection.prepareStatement("""
                INSERT INTO res_partner (name, active, is_company, create_date, write_date)
                VALUES (?, true, false, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC') RETURNING id""")) {
            insert.setString(1, shown);
            try (ResultSet row = insert.executeQuery()) {
                row.next();
                partner = row.getLong(1);
            }
        }
        long uid;
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO res_users (login, password, name, partner_id) VALUES (?, ?, ?, ?) RETURNING id")) {
            insert.setString(1, login);
            insert.setString(2, Passwords.hash(password));
            insert.setString(3, shown);
            insert.setLong(4, partner);
            try (ResultSet row = insert.executeQuery()) {
                row.next();
                uid = row.getLong(1);
            }
        }
        try (PreparedStatement groups = connection.prepareStatement(
                "INSERT INTO res_groups_users_rel (res_groups_id, res_users_id) SELECT id, ? FROM res_groups WHERE xml_id = ANY(?)")) {
            groups.setLong(1, uid);
            groups.setArray(2, connection.createArrayOf("text", ADMINISTRATOR_GROUPS));
            groups.executeUpdate();
        }
        return uid;
    }

    /**
     * Spends the time of a password check that cannot succeed, for refusals decided before any
     * user is looked up (e.g. an unknown database), so they cost what a wrong password costs.
     */
    public static void refuse(String password) {
        Passwords.verify(password == null ? "" : password, DUMMY);
    }

    /**
     * Whether {@code password} is the password of the active user {@code uid}, for the external
     * API's calls, which send the password with every call (Odoo's {@code res.users.check}). A
     * password verified once is remembered for the user's stored hash: a later call costs one
     * indexed read instead of a PBKDF2 check, and a new password (a new hash) is checked anew.
     */
    public static boolean check(Connection connection, String database, long uid, String password) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement("SELECT password FROM res_users WHERE id = ? AND active")) {
            query.setLong(1, uid);
            try (ResultSet row = query.executeQuery()) {
                if (!row.next() || password == null) {
                    Passwords.verify(password == null ? "" : password, DUMMY);
                    return false;
                }
                String stored = row.getString(1);
                Verified key = new Verified(database, uid, stored, Passwords.digest(password));
                if (VERIFIED.containsKey(key)) {
                    return true;
                }
                if (!Passwords.verify(password, stored)) {
                    return false;
                }
                if (VERIFIED.size() >= VERIFIED_KEPT) {
                    VERIFIED.clear();
                }
                VERIFIED.put(key, Boolean.TRUE);
                return true;
            }
        }
    }

    /**
     * {@link #check(Connection, String, long, String)} under the login cooldown, as Odoo's
     * {@code _check_credentials} is: a client, or a user, after repeated failures is refused without
     * a check; a failure counts, a success clears the counts. Null when the call may go on, else
     * why not: {@link LoginThrottle#MESSAGE} on a cooldown, "Access Denied" otherwise.
     */
    public static String check(Connection connection, String database, long uid, String password, String client)
            throws SQLException {
        String user = "#" + uid;
        if (THROTTLE.cooldown(database, user, client) != null) {
            return LoginThrottle.MESSAGE;
        }
        if (check(connection, database, uid, password)) {
            THROTTLE.succeeded(database, user, client);
            return null;
        }
        THROTTLE.failed(database, user, client);
        return "Access Denied";
    }

    /** A password verified against a stored hash; the password itself is kept only as a SHA-256 digest. */
    private record Verified(String database, long uid, String storedHash, String digest) {
    }

    private static final int VERIFIED_KEPT = 10_000;
    private static final ConcurrentHashMap<Verified, Boolean> VERIFIED = new ConcurrentHashMap<>();

    /**
     * A login checked: the user's id, or why it was refused. The reason is for the log of
     * {@code --dev=access} only; a client is told "Access Denied" whatever it is.
     */
    public record Login(long uid, String refusal, boolean cooldown) {

        static Login refused(String why) {
            return new Login(0, why, false);
        }

        public boolean ok() {
            return refusal == null;
        }
    }

    /** Failed logins of this process, for Odoo's cooldown. */
    private static final LoginThrottle THROTTLE = new LoginThrottle();

    /**
     * The active user {@code login} of {@code database} when {@code password} is theirs; otherwise
     * why not. A client or login on its cooldown ({@link LoginThrottle}) is refused without a check;
     * {@link Login#cooldown()} then says so, for the client to be told.
     */
    public static Login authenticate(Connection connection, String database, String login, String password, String client,
                                     boolean apiKeys) throws SQLException {
        String cooling = THROTTLE.cooldown(database, login, client);
        if (cooling != null) {
            return new Login(0, cooling, true);
        }
        Login checked = apiKeys && ApiKeys.plausible(password) ? withKey(connection, database, login, password) : null;
        if (checked == null) {
            checked = authenticate(connection, login, password);
        }
        if (checked.ok()) {
            THROTTLE.succeeded(database, login, client);
        } else {
            THROTTLE.failed(database, login, client);
        }
        return checked;
    }

    /** The active user {@code login} when {@code key} is one of their API keys; null when it is not. */
    private static Login withKey(Connection connection, String database, String login, String key) throws SQLException {
        long uid = ApiKeys.check(connection, database, key, ApiKeys.RPC, 0);
        if (uid == 0) {
            return null;
        }
        try (PreparedStatement query = connection.prepareStatement("SELECT login FROM res_users WHERE id = ?")) {
            query.setLong(1, uid);
            try (ResultSet row = query.executeQuery()) {
                return row.next() && row.getString(1).equals(login) ? new Login(uid, null, false) : null;
            }
        }
    }

    /** The active user {@code login} when {@code password} is theirs; otherwise why not. */
    static Login authenticate(Connection connection, String login, String password) throws SQLException {
        if (login == null || login.indexOf('\0') >= 0) {
            // PostgreSQL's text cannot hold NUL: the query would fail with an error logged per try
            refuse(password);
            return Login.refused("no login, or a NUL character in it");
        }
        try (PreparedStatement query = connection.prepareStatement(
                "SELECT id, password FROM res_users WHERE login = ? AND active")) {
            query.setString(1, login);
            try (ResultSet row = query.executeQuery()) {
                if (!row.next()) {
                    Passwords.verify(password == null ? "" : password, DUMMY);
                    return Login.refused("no active user with this login");
                }
                long id = row.getLong(1);
                return Passwords.verify(password, row.getString(2)) ? new Login(id, null, false) : Login.refused("wrong password");
            }
        }
    }
}
