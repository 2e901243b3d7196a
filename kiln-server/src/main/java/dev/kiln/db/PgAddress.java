package dev.kiln.db;

import dev.kiln.config.Config;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * Where a PostgreSQL server listens and whom to log in as: {@code db_host}, {@code db_port},
 * {@code db_user}, {@code db_password}, {@code db_sslmode}, or the embedded server's. {@code host}
 * may list several servers, {@code h1,h2:5433} (a port after a host is its own, else {@code port}):
 * Kiln then connects to whichever is the primary, so a standby promoted after a failover is found
 * without a restart.
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

    /**
     * An address Kiln's work goes through ({@code db_host}, {@code db_replica_host}): the login
     * {@code config} names, and its {@code db_pooler}, which describes the poolers in front of both.
     */
    static PgAddress forWork(Config config, String host, int port) {
        return new PgAddress(host, port, config.dbUser(), config.dbPassword(), config.dbSslmode(),
                "transaction".equals(config.dbPooler()));
    }

    public PgAddress {
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("PostgreSQL host must be given");
        }
        port = port == 0 ? DEFAULT_PORT : port;
        sslmode = sslmode == null ? "prefer" : sslmode;
        parse(host, port);          // a malformed list fails here, at start
    }

    /** The login of every connection: the configured user, or the OS user as libpq and pgjdbc default to. */
    public String effectiveUser() {
        return user != null ? user : System.getProperty("user.name");
    }

    /** {@code host:port}, as error messages name the server (every one of them, when several). */
    public String hostAndPort() {
        return String.join(",", servers().stream().map(s -> s.host() + ":" + s.port()).toList());
    }

    /** One server of a {@code db_host} list. */
    record Server(String host, int port) {
        String jdbc() {
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }
    }

    /** The servers {@code host} names: one, or each of a comma-separated list ({@code h}, {@code h:port}, {@code [v6]:port}). */
    List<Server> servers() {
        return parse(host, port);
    }

    private static List<Server> parse(String host, int port) {
        List<Server> servers = new ArrayList<>();
        for (String entry : host.split(",")) {
            String one = entry.strip();
            if (one.isEmpty()) {
                throw new IllegalArgumentException("db_host '" + host + "': an empty host in the list");
            }
            int colon = one.lastIndexOf(':');
            boolean bracketed = one.startsWith("[");
            boolean hasPort = host.contains(",") && colon > 0 && (bracketed ? one.indexOf(']') < colon : one.indexOf(':') == colon);
            if (hasPort) {
                String name = one.substring(0, colon);
                servers.add(new Server(bracketed ? name.substring(1, name.length() - 1) : name,
                        parsePort(host, one.substring(colon + 1))));
            } else {
                servers.add(new Server(bracketed ? one.substring(1, one.length() - 1) : one, port));
            }
        }
        return servers;
    }

    private static int parsePort(String host, String text) {
        try {
            int value = Integer.parseInt(text);
            if (value > 0 && value < 65_536) {
                return value;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("db_host '" + host + "': '" + text + "' is not a port");
    }

    /** libpq's {@code --host}: the servers' hosts, comma-separated. */
    String libpqHosts() {
        return String.join(",", servers().stream().map(Server::host).toList());
    }

    /** libpq's {@code --port}: each server's port, in the order of {@link #libpqHosts}. */
    String libpqPorts() {
        return String.join(",", servers().stream().map(s -> Integer.toString(s.port())).toList());
    }

    /** Whether {@code host} lists several servers, of which Kiln uses the primary. */
    public boolean several() {
        return servers().size() > 1;
    }

    String jdbcUrl(String database) {
        return "jdbc:postgresql://" + String.join(",", servers().stream().map(Server::jdbc).toList()) + "/"
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
        if (several()) {
            // the primary of the list, found anew once a server stops being it (a failover)
            properties.setProperty("targetServerType", "primary");
            properties.setProperty("hostRecheckSeconds", "2");
        }
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
