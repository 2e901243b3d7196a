package dev.kiln.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.logging.AccessRefusals;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which pages may open the bus websocket with a visitor's cookie: the site's own, and those the operator allowed. */
class BusSocketsOriginTest {

    private static BusSockets sockets(String... allowed) {
        return new BusSockets(null, HttpOptions.defaults().withWebsocketOrigins(List.of(allowed)), new AccessRefusals(false));
    }

    @Test
    void aPageOfTheSameHostAndPortIsNotCrossSite() {
        assertThat(sockets().crossSite("http://erp.example.com:8069", "erp.example.com:8069")).isFalse();
        assertThat(sockets().crossSite("https://ERP.example.com", "erp.example.com")).isFalse();
    }

    @Test
    void anotherHostAnotherPortOrAnOpaqueOriginIsCrossSite() {
        assertThat(sockets().crossSite("https://evil.example", "erp.example.com")).isTrue();
        assertThat(sockets().crossSite("http://erp.example.com:8070", "erp.example.com:8069")).isTrue();
        assertThat(sockets().crossSite("null", "erp.example.com")).as("a sandboxed page or a file").isTrue();
        assertThat(sockets().crossSite("https://erp.example.com.evil.example", "erp.example.com")).isTrue();
    }

    @Test
    void anOriginTheOperatorAllowedIsNotCrossSite() {
        BusSockets allowing = sockets("https://app.example.com");
        assertThat(allowing.crossSite("https://app.example.com", "erp.example.com")).isFalse();
        assertThat(allowing.crossSite("http://app.example.com", "erp.example.com")).as("another scheme").isTrue();
    }

    @Test
    void aClientThatIsNoBrowserSendsNoOriginAndIsServed() {
        assertThat(sockets().crossSite(null, "erp.example.com")).isFalse();
    }
}
