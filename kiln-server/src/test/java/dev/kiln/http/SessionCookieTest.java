package dev.kiln.http;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class SessionCookieTest {

    private static final String TOKEN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234";

    @Test
    void theValueNamesTheDatabaseBeforeTheLastDot() {
        assertThat(SessionCookie.parse("acme." + TOKEN)).isEqualTo(new SessionCookie("acme", TOKEN));
        assertThat(SessionCookie.parse("acme.prod." + TOKEN)).isEqualTo(new SessionCookie("acme.prod", TOKEN));
    }

    @Test
    void aValueKilnCouldNotHaveMadeIsNoSession() {
        assertThat(SessionCookie.parse(TOKEN)).as("no database").isNull();
        assertThat(SessionCookie.parse("." + TOKEN)).as("empty database").isNull();
        assertThat(SessionCookie.parse("acme.short")).isNull();
        assertThat(SessionCookie.parse("acme." + TOKEN.replace('a', '+'))).isNull();
        assertThat(SessionCookie.parse(null)).isNull();
    }

    @Test
    void theCookieIsHttpOnlyLaxAndSecureOnlyWhenAsked() {
        assertThat(SessionCookie.set("acme", TOKEN, false))
                .isEqualTo("session_id=acme." + TOKEN + "; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax");
        assertThat(SessionCookie.set("acme", TOKEN, true)).endsWith("; SameSite=Lax; Secure");
        assertThat(SessionCookie.clear(false)).startsWith("session_id=; Max-Age=0;");
    }

    @Test
    void theLoginPageRedirectsOnlyWithinTheSite() {
        assertThat(SessionRoutes.localPath("/desk/me?x=1")).isEqualTo("/desk/me?x=1");
        assertThat(SessionRoutes.localPath("//evil.example/")).isEqualTo("/");
        assertThat(SessionRoutes.localPath("/\\evil.example/")).isEqualTo("/");
        assertThat(SessionRoutes.localPath("https://evil.example/")).isEqualTo("/");
        assertThat(SessionRoutes.localPath("/a\r\nSet-Cookie: x=1")).isEqualTo("/");
    }
}
