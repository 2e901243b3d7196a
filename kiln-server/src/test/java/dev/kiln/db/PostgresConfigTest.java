package dev.kiln.db;

import dev.kiln.config.Config;
import dev.kiln.config.ConfigLoader;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Which server the options name; no server is started. */
class PostgresConfigTest {

    @Test
    void dbHostOptionsNameAnExternalServer() {
        Config config = ConfigLoader.load(Map.of(
                "db_host", List.of("db.internal"), "db_port", List.of("6543"), "db_user", List.of("odoo"),
                "db_password", List.of("secret"), "db_sslmode", List.of("require"), "db_maxconn", List.of("7")),
                Map.of("HOME", System.getProperty("java.io.tmpdir"), "KILN_RC", "False"));
        try (Postgres postgres = Postgres.start(config); ConnectionPools pools = ConnectionPools.of(postgres, config)) {
            assertThat(postgres.isEmbedded()).isFalse();
            assertThat(postgres.await(Duration.ZERO))
                    .isEqualTo(new PgAddress("db.internal", 6543, "odoo", "secret", "require"));
            assertThat(postgres.await().toString()).doesNotContain("secret");
            assertThat(pools.maxConnections()).isEqualTo(7);
        }
    }

    @Test
    void anUnsetPortIsPostgresDefault() {
        assertThat(new PgAddress("h", 0, null, null, null).port()).isEqualTo(5432);
        assertThat(new PgAddress("h", 0, null, null, null).sslmode()).isEqualTo("prefer");
    }
}
