package dev.kiln.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Odoo's login cooldown, on a clock the test sets. */
class LoginThrottleTest {

    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final LoginThrottle throttle = new LoginThrottle(now::get);

    private void fail(String login, String client, int times) {
        for (int i = 0; i < times; i++) {
            throttle.failed("db", login, client);
        }
    }

    @Test
    void fiveFailuresInARowFromOneAddressCoolItDownForAMinuteSinceTheLast() {
        fail("admin", "10.0.0.1", 4);
        assertThat(throttle.cooldown("db", "other", "10.0.0.1")).isNull();
        fail("admin", "10.0.0.1", 1);
        assertThat(throttle.cooldown("db", "other", "10.0.0.1")).contains("client 10.0.0.1");
        now.addAndGet(LoginThrottle.COOLDOWN.toNanos() - 1);
        assertThat(throttle.cooldown("db", "other", "10.0.0.1")).isNotNull();
        now.addAndGet(1);
        assertThat(throttle.cooldown("db", "other", "10.0.0.1")).isNull();
    }

    @Test
    void oneLoginTriedFromManyAddressesIsCooledDownToo() {
        for (int i = 0; i < 5; i++) {
            throttle.failed("db", "admin", "10.0.0." + i);
        }
        assertThat(throttle.cooldown("db", "admin", "10.9.9.9")).contains("this login");
        assertThat(throttle.cooldown("other_db", "admin", "10.9.9.9")).as("the same login of another database").isNull();
    }

    @Test
    void aSuccessfulLoginClearsItsAddressAndLogin() {
        fail("admin", "10.0.0.1", 4);
        throttle.succeeded("db", "admin", "10.0.0.1");
        fail("admin", "10.0.0.1", 4);
        assertThat(throttle.cooldown("db", "admin", "10.0.0.1")).isNull();
    }

    @Test
    void aFloodOfDistinctAddressesDoesNotGrowTheMapsWithoutBound() {
        for (int i = 0; i < LoginThrottle.KEPT * 3; i++) {
            throttle.failed("db", "user" + i, "addr" + i);
        }
        fail("admin", "10.0.0.1", 5);
        assertThat(throttle.cooldown("db", "admin", "10.0.0.1")).isNotNull();
    }
}
