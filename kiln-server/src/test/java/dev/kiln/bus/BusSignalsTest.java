package dev.kiln.bus;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The payloads of the bus notifications: PostgreSQL refuses one of 8,000 bytes or more. */
class BusSignalsTest {

    @Test
    void aFewChannelsGoInOneNotificationThatReadsBackAsTheDatabaseAndItsChannels() {
        List<String> payloads = BusSignals.payloads("shop", List.of("orders", "stock \"A\"", "é"));

        assertThat(payloads).hasSize(1);
        BusSignals.Notice notice = BusSignals.parse(payloads.getFirst());
        assertThat(notice.database()).isEqualTo("shop");
        assertThat(notice.channels()).containsExactly("orders", "stock \"A\"", "é");
    }

    @Test
    void aLongChannelListIsSplitIntoNotificationsUnderTheLimitWithEveryChannelOnce() {
        List<String> channels = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            channels.add("res.partner/" + i + "/é");
        }

        List<String> payloads = BusSignals.payloads("shop", channels);

        assertThat(payloads.size()).isGreaterThan(3);
        assertThat(payloads).allSatisfy(p -> assertThat(p.getBytes(StandardCharsets.UTF_8).length).isLessThan(8_000));
        assertThat(payloads.stream().flatMap(p -> BusSignals.parse(p).channels().stream()).toList()).isEqualTo(channels);
    }

    @Test
    void aChannelTooLongForANotificationWakesEverySubscriberOfItsDatabase() {
        List<String> payloads = BusSignals.payloads("shop", List.of("x".repeat(9_000), "short"));

        assertThat(payloads).hasSize(2);
        assertThat(BusSignals.parse(payloads.get(0)).channels()).isEmpty();
        assertThat(BusSignals.parse(payloads.get(1)).channels()).containsExactly("short");
    }
}
