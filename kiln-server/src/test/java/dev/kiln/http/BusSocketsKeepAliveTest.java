package dev.kiln.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The bus websocket's keep-alive periods: Odoo's unless a test suite divides them. */
class BusSocketsKeepAliveTest {

    @Test
    void withoutTheTestPropertyThePeriodsAreOdoos() {
        // this suite's JVMs run without the property: only BusWebSocketTest gives it to a server of its own
        assertThat(System.getProperty(BusSockets.TEST_DIVISOR_PROPERTY)).isNull();
        assertThat(BusSockets.PING_EVERY).isEqualTo(Duration.ofSeconds(25));
        assertThat(BusSockets.IDLE_TIMEOUT).isEqualTo(Duration.ofSeconds(60));
    }

    @Test
    void theDivisorIsAWholeNumberFromOneToSixty() {
        assertThat(BusSockets.divisor(null)).isEqualTo(1);
        assertThat(BusSockets.divisor(" ")).isEqualTo(1);
        assertThat(BusSockets.divisor("6")).isEqualTo(6);
        assertThatThrownBy(() -> BusSockets.divisor("fast")).hasMessageContaining(BusSockets.TEST_DIVISOR_PROPERTY);
        assertThatThrownBy(() -> BusSockets.divisor("0")).hasMessageContaining("between 1 and 60");
        assertThatThrownBy(() -> BusSockets.divisor("61")).hasMessageContaining("between 1 and 60");
    }
}
