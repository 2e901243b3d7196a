package dev.kiln.server;

import dev.kiln.db.PgAddress;
import dev.kiln.db.Postgres;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Kiln never serves as a PostgreSQL superuser: on the embedded server it connects as the role
 * {@code kiln}, made at first start, which owns its databases (those a data dir made earlier left to
 * the superuser are handed over); an external server's superuser is refused unless
 * {@code --db-allow-superuser} says so.
 */
@Tag("process")
class KilnRoleTest {

    @TempDir
    Path dir;

    @Test
    void aDataDirWhoseDatabaseTheSuperuserOwnsIsHandedToTheKilnRoleWhichServesIt() throws Exception {
        Path data = dir.resolve("data");
        Postgres superuser = Postgres.startEmbedded(data);
        try {
            PgAddress server = superuser.await();
            try (Connection postgres = connect(server.port(), "postgres", "postgres")) {
                postgres.createStatement().execute("CREATE DATABASE legacy");
            }
            try (Connection legacy = connect(server.port(), "legacy", "postgres"); Statement statement = legacy.createStatement()) {
                statement.execute("CREATE TABLE legacy_note (id serial PRIMARY KEY, body text)");
                statement.execute("INSERT INTO legacy_note (body) VALUES ('kept')");
                statement.execute("CREATE FUNCTION legacy_upper(t text) RETURNS text LANGUAGE sql AS 'SELECT upper(t)'");
                statement.execute("CREATE SCHEMA archive CREATE TABLE old_note (id int)");
                statement.execute("CREATE VIEW legacy_view AS SELECT body FROM legacy_note");
                statement.execute("CREATE MATERIALIZED VIEW legacy_counts AS SELECT count(*) FROM legacy_note");
                statement.execute("CREATE TYPE legacy_mood AS ENUM ('calm', 'busy')");
            }
        } finally {
            superuser.close();
        }

        try (KilnProcess init = KilnProcess.launch(Files.createDirectories(dir.resolve("init")), List.of(),
                "--data-dir=" + data, "-d", "legacy", "-i", "base", "--stop-after-init")) {
            assertThat(init.awaitExit(Duration.ofSeconds(120))).as(init.log()).isZero();
            assertThat(init.log()).contains("role 'kiln' created").contains("database 'legacy' and what is in it now belong to role 'kiln'");
        }
        try (KilnProcess kiln = KilnProcess.start(Files.createDirectories(dir.resolve("serve")), "--data-dir=" + data, "-d", "legacy")) {
            kiln.awaitReady();
            int port = embeddedPort(data);
            assertThat(query(port, "postgres", "SELECT rolsuper || ',' || rolcreatedb || ',' || rolcreaterole FROM pg_roles"
                    + " WHERE rolname = 'kiln'")).isEqualTo("false,true,false");
            assertThat(query(port, "postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'legacy'"))
                    .isEqualTo("kiln");
            assertThat(query(port, "legacy", "SELECT string_agg(DISTINCT pg_get_userbyid(c.relowner), ',') FROM pg_class c"
                    + " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'archive')"))
                    .as("tables, sequences and indexes, Kiln's and the earlier ones").isEqualTo("kiln");
            assertThat(query(port, "legacy", "SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'legacy_upper'"))
                    .isEqualTo("kiln");
            assertThat(query(port, "legacy", "SELECT pg_get_userbyid(typowner) FROM pg_type WHERE typname = 'legacy_mood'"))
                    .isEqualTo("kiln");
            // the backends of this test's own connections above may linger a moment after their close
            await().atMost(KilnProcess.PATIENCE).untilAsserted(() -> assertThat(query(port, "legacy",
                    "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity WHERE datname = 'legacy' AND pid <> pg_backend_pid()"))
                    .as("who Kiln's connections are").isEqualTo("kiln"));
        }
    }

    @Test
    void anExternalServerIsRefusedAsASuperuserUnlessAllowed() throws Exception {
        Postgres superuser = Postgres.startEmbedded(dir.resolve("external"));
        try {
            PgAddress server = superuser.await();
            try (KilnProcess refused = KilnProcess.launch(Files.createDirectories(dir.resolve("refused")), List.of(),
                    "--db_host=" + server.host(), "--db_port=" + server.port(), "--db_user=postgres")) {
                assertThat(refused.awaitExit(Duration.ofSeconds(60))).isEqualTo(2);
                assertThat(refused.log()).contains("db_user 'postgres' is a superuser: Kiln refuses to run as it")
                        .contains("--db-allow-superuser");
            }
            try (Connection postgres = connect(server.port(), "postgres", "postgres")) {
                postgres.createStatement().execute("CREATE ROLE boss LOGIN SUPERUSER");
                postgres.createStatement().execute("CREATE DATABASE bossdb");
            }
            try (KilnProcess kiln = KilnProcess.start(Files.createDirectories(dir.resolve("boss")),
                    "--db_host=" + server.host(), "--db_port=" + server.port(), "--db_user=boss", "-d", "bossdb")) {
                kiln.awaitLog("logs Kiln in as 'boss', a superuser: refused", 1);
                assertThat(kiln.count("registry loaded")).isZero();
            }
            try (KilnProcess allowed = KilnProcess.start(Files.createDirectories(dir.resolve("allowed")),
                    "--db_host=" + server.host(), "--db_port=" + server.port(), "--db_user=boss", "--db-allow-superuser",
                    "-d", "bossdb")) {
                allowed.awaitReady();
            }
        } finally {
            superuser.close();
        }
    }

    private static int embeddedPort(Path data) throws java.io.IOException {
        return Integer.parseInt(Files.readAllLines(data.resolve("postgres-15.port")).stream().filter(l -> l.startsWith("port="))
                .findFirst().orElseThrow().substring(5).strip());
    }

    private static Connection connect(int port, String database, String user) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://localhost:" + port + "/" + database, user, "");
    }

    private static String query(int port, String database, String sql) throws SQLException {
        try (Connection connection = connect(port, database, "postgres"); Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery(sql)) {
            row.next();
            return row.getString(1);
        }
    }
}
