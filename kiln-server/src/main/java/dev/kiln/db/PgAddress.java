package dev.kiln.db;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Properties;

/**
 * Where a PostgreSQL server listens and whom to log in as: {@code db_host}, {@code db_port},
 * {@code db_user}, {@code db_password}, {@code db_sslmode}, or the embedded server's.
 * A null user means the driver's default (the operating system user); a null password none.
 *
 * @param transactionPooled whether the address is a pooler in transaction mode ({@code db_pooler =
 *                          transaction}): consecutive transactions of one connection may run on
 *                          different server sessions, so nothing may outlive a transaction
 */
public record PgAddress(String host, int port, String user, String password, String sslmode, boolean transactionPooled) {

    /** PostgreSQL's own default port, used when {@code db_port} is unset (0). */
    public static final int DEFAULT_PORT = 5432;

    public PgAddress(String host, int port, String user, String password, String sslmode) {
        this(host, port, user, password, sslmode, false);
    }

    public PgAddress {
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("PostgreSQL host must be given");
        }
        port = port == 0 ? DEFAULT_PORT : port;
        sslmode = sslmode == null ? "prefer" : sslmode;
    }

    /** The login of every connection: the configured user, or the OS user as libpq and pgjdbc default to. */
    public String effectiveUser() {
        return user != null ? user : System.getProperty("user.name");
    }

    /** {@code host:port}, as error messages name the server. */
    public String hostAndPort() {
        return host + ":" + port;
    }

    String jdbcUrl(String database) {
        return "jdbc:postgresql://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port + "/"
                + URLEncoder.encode(database, StandardCharsets.UTF_8);
    }

    /** Driver properties: bounded connect and login times so that nothing waits on a dead host. */
    Properties driverProperties(int connectTimeoutSeconds) {
        Properties properties = new Properties();
        properties.setProperty("user", effectiveUser());
        if (password != null) {
            properties.setProperty("password", password);
        }
        properties.setProperty("sslmode", sslmode);
        properties.setProperty("connectTimeout", Integer.toString(connectTimeoutSeconds));
        properties.setProperty("loginTimeout", Integer.toString(connectTimeoutSeconds));
        properties.setProperty("tcpKeepAlive", "true");
        properties.setProperty("ApplicationName", "kiln");
        if (transactionPooled) {
            // pgjdbc names a statement after 5 uses; the next transaction may be on a session that lacks it
            properties.setProperty("prepareThreshold", "0");
        }
        return properties;
    }

    @Override
    public String toString() {
        // Never the password: addresses end up in logs.
        return effectiveUser() + "@" + hostAndPort();
    }
}
