package dev.kiln.db;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code db_host} as one server or a list of them, as pgjdbc and libpq take it. */
class PgAddressTest {

    @Test
    void oneHostTakesDbPortAndAnIpv6AddressIsBracketed() {
        PgAddress one = new PgAddress("db.example.com", 0, "kiln", null, null);
        assertThat(one.jdbcUrl("my db")).isEqualTo("jdbc:postgresql://db.example.com:5432/my+db");
        assertThat(one.several()).isFalse();
        assertThat(one.driverProperties(5)).doesNotContainKey("targetServerType");
        assertThat(new PgAddress("::1", 6000, "kiln", null, null).jdbcUrl("x")).isEqualTo("jdbc:postgresql://[::1]:6000/x");
    }

    @Test
    void aListConnectsToItsPrimaryWithEachServersOwnPortOrDbPort() {
        PgAddress pair = new PgAddress("pg1, pg2:5433,[::1]:6000", 5432, "kiln", null, null);
        assertThat(pair.jdbcUrl("x")).isEqualTo("jdbc:postgresql://pg1:5432,pg2:5433,[::1]:6000/x");
        assertThat(pair.several()).isTrue();
        assertThat(pair.hostAndPort()).isEqualTo("pg1:5432,pg2:5433,::1:6000");
        assertThat(pair.libpqHosts()).isEqualTo("pg1,pg2,::1");
        assertThat(pair.libpqPorts()).isEqualTo("5432,5433,6000");
        assertThat(pair.driverProperties(5)).containsEntry("targetServerType", "primary");
    }

    @Test
    void aMalformedListIsRefusedAtOnce() {
        assertThatThrownBy(() -> new PgAddress("pg1,,pg2", 0, "kiln", null, null)).hasMessageContaining("empty host");
        assertThatThrownBy(() -> new PgAddress("pg1,pg2:port", 0, "kiln", null, null)).hasMessageContaining("'port' is not a port");
        assertThatThrownBy(() -> new PgAddress("pg1,pg2:70000", 0, "kiln", null, null)).hasMessageContaining("is not a port");
    }
}
