package dev.kiln.bus;

import dev.kiln.db.ConnectionPools;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Tells the bus dispatchers of every Kiln process which channels of a database have new messages,
 * Odoo's {@code pg_notify('imbus', channels)} after commit: {@code NOTIFY} {@value #CHANNEL} in the
 * maintenance database (a listener hears only its own database, and one dispatcher serves them
 * all) with the payload {@code <database>\n<JSON array of channels>}. PostgreSQL refuses payloads
 * of 8,000 bytes or more, so a long channel list goes out in several notifications; a single
 * channel too long for one goes out as an empty list, which wakes every subscriber of the database.
 */
public final class BusSignals {

    public static final String CHANNEL = "kiln_bus";
    /** Under PostgreSQL's 8,000-byte limit on a payload, with room to spare. */
    static final int MAX_PAYLOAD_BYTES = 7_900;

    private static final Logger LOG = LoggerFactory.getLogger(BusSignals.class);
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private BusSignals() { }

    /**
     * Call after the commit that wrote messages on {@code channels} of {@code db}. A failure is
     * logged: the messages are committed, and a subscriber finds them at its next poll.
     */
    public static void notifyCommitted(ConnectionPools pools, String db, Collection<String> channels) {
        for (String payload : payloads(db, channels)) {
            try {
                pools.notifyServer(CHANNEL, payload);
            } catch (RuntimeException | SQLException e) {
                LOG.warn("{}: could not notify the bus dispatchers ({}); waiting clients see the messages at their next poll",
                        db, e.toString());
                return;
            }
        }
    }

    /** The payloads announcing {@code channels}, each under {@link #MAX_PAYLOAD_BYTES}. */
    static List<String> payloads(String db, Collection<String> channels) {
        String head = db + "\n";
        int room = MAX_PAYLOAD_BYTES - bytes(head);
        List<String> payloads = new ArrayList<>();
        List<String> batch = new ArrayList<>();
        int batchBytes = 2;                         // the brackets
        for (String channel : channels) {
            int size = bytes(JSON.writeValueAsString(channel)) + 1;  // and its comma
            if (size + 2 > room) {
                payloads.add(head + "[]");
                continue;
            }
            if (batchBytes + size > room) {
                payloads.add(head + JSON.writeValueAsString(batch));
                batch = new ArrayList<>();
                batchBytes = 2;
            }
            batch.add(channel);
            batchBytes += size;
        }
        if (!batch.isEmpty()) {
            payloads.add(head + JSON.writeValueAsString(batch));
        }
        return payloads;
    }

    /** The database and channels of a payload; no channels means all of the database's. */
    static Notice parse(String payload) {
        int newline = payload.indexOf('\n');
        if (newline < 0) {
            return new Notice(payload, List.of());
        }
        String[] channels = JSON.readValue(payload.substring(newline + 1), String[].class);
        return new Notice(payload.substring(0, newline), List.of(channels));
    }

    record Notice(String database, List<String> channels) { }

    private static int bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8).length;
    }
}
