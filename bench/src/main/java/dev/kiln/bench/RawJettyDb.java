package dev.kiln.bench;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;

/**
 * The peer of Kiln's database route: a Jetty 12.1 core handler on virtual threads that runs
 * {@code SELECT 1} in a transaction of a HikariCP pool — the same pool settings Kiln's requests get
 * (autocommit off, REPEATABLE READ, at most 64 connections) — and answers {@code 1}. What Kiln adds
 * on top (database choice, registry check, routing, access log) is the difference.
 *
 * <p>Usage: {@code java -cp ... dev.kiln.bench.RawJettyDb PORT JDBC_URL USER}; 127.0.0.1 only.
 */
public final class RawJettyDb {

    private RawJettyDb() { }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: RawJettyDb PORT JDBC_URL USER");
            System.exit(2);
        }
        HikariConfig pool = new HikariConfig();
        pool.setJdbcUrl(args[1]);
        pool.setUsername(args[2]);
        pool.setAutoCommit(false);
        pool.setTransactionIsolation("TRANSACTION_REPEATABLE_READ");
        pool.setMaximumPoolSize(64);
        HikariDataSource dataSource = new HikariDataSource(pool);

        RawJettyHello.serve(Integer.parseInt(args[0]), new SelectOne(dataSource), "raw jetty + HikariCP");
        dataSource.close();
    }

    static final class SelectOne extends Handler.Abstract {
        private final HikariDataSource dataSource;

        SelectOne(HikariDataSource dataSource) {
            this.dataSource = dataSource;
        }

        @Override
        public boolean handle(Request request, Response response, Callback callback) throws Exception {
            String value;
            try (Connection connection = dataSource.getConnection();
                 Statement statement = connection.createStatement();
                 ResultSet row = statement.executeQuery("SELECT 1")) {
                row.next();
                value = row.getString(1);
                connection.commit();
            }
            byte[] body = value.getBytes(StandardCharsets.US_ASCII);
            response.setStatus(200);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
            response.write(true, ByteBuffer.wrap(body), callback);
            return true;
        }
    }
}
