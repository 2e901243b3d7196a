package dev.kiln.bus;

import dev.kiln.api.Bus;
import dev.kiln.db.Tables;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * All the SQL of the bus, on {@code kiln_bus} (Odoo's {@code bus_bus}): one row per message,
 * {@code message} being {@code {"type": ..., "payload": ...}}.
 */
public final class BusStore {

    /** The bus table, created with Kiln's own in every database (see {@code RegistrySchema}). */
    public static final Tables TABLES = new Tables("""
            CREATE TABLE IF NOT EXISTS kiln_bus (
                id bigserial PRIMARY KEY,
                channel text NOT NULL,
                message jsonb NOT NULL,
                created timestamptz NOT NULL DEFAULT now());
            CREATE INDEX IF NOT EXISTS kiln_bus_created ON kiln_bus (created);
            """, "kiln_bus_created");

    /**
     * Odoo's TIMEOUT: a client that has seen nothing yet (last id 0) gets only the messages of this
     * last span, not the whole retention.
     */
    public static final Duration FRESH_CLIENT_SPAN = Duration.ofSeconds(50);

    /** Kiln's advisory locks are 0x4b494c4e0001 and up (RegistrySchema.Locks); this is the bus's. */
    static final long BUS_IDS_LOCK = 0x4b494c4e0003L;

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private BusStore() { }

    /** The message as the JSON stored in {@code kiln_bus.message}. */
    static String encode(String type, Object payload) {
        try {
            Map<String, Object> message = new LinkedHashMap<>();
            message.put("type", type);
            message.put("payload", payload);
            return JSON.writeValueAsString(message);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("bus message of type '" + type + "': its payload cannot be written as JSON ("
                    + e.getOriginalMessage() + ")", e);
        }
    }

    /**
     * Takes the lock under which messages are written, held until the commit: so message ids are
     * taken in commit order (see {@link TransactionBus}). One of Kiln's advisory lock numbers
     * (see {@code RegistrySchema.Locks}).
     */
    static void lockIds(Connection connection) throws SQLException {
        try (PreparedStatement lock = connection.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
            lock.setLong(1, BUS_IDS_LOCK);
            lock.execute();
        }
    }

    /** Writes {@code messages} ({channel, message JSON} each), in their order, in one round trip. */
    static void insert(Connection connection, List<String[]> messages) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement("""
                INSERT INTO kiln_bus (channel, message)
                SELECT channel, message::jsonb FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS m(channel, message, n)
                ORDER BY n""")) {
            insert.setArray(1, connection.createArrayOf("text", messages.stream().map(m -> m[0]).toArray()));
            insert.setArray(2, connection.createArrayOf("text", messages.stream().map(m -> m[1]).toArray()));
            insert.executeUpdate();
        }
    }

    /** The messages of {@code channels} above {@code lastId}, in id order: one round trip. */
    static List<Bus.Message> read(Connection connection, Collection<String> channels, long lastId) throws SQLException {
        String sql = lastId > 0
                ? "SELECT id, channel, message FROM kiln_bus WHERE id > ? AND channel = ANY(?) ORDER BY id"
                : "SELECT id, channel, message FROM kiln_bus WHERE id > ? AND channel = ANY(?)"
                        + " AND created > now() - make_interval(secs => " + FRESH_CLIENT_SPAN.toSeconds() + ") ORDER BY id";
        List<Bus.Message> messages = new ArrayList<>();
        try (PreparedStatement select = connection.prepareStatement(sql)) {
            select.setLong(1, lastId);
            Array array = connection.createArrayOf("text", channels.toArray());
            select.setArray(2, array);
            try (ResultSet rows = select.executeQuery()) {
                while (rows.next()) {
                    messages.add(decode(rows.getLong(1), rows.getString(2), rows.getString(3)));
                }
            }
        }
        return messages;
    }

    /** At most {@code limit} messages of every channel above {@code lastId}, in id order; for the dispatcher's {@link RecentMessages}. */
    static List<Bus.Message> readAll(Connection connection, long lastId, int limit) throws SQLException {
        List<Bus.Message> messages = new ArrayList<>();
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT id, channel, message FROM kiln_bus WHERE id > ? ORDER BY id LIMIT ?")) {
            select.setLong(1, lastId);
            select.setInt(2, limit);
            try (ResultSet rows = select.executeQuery()) {
                while (rows.next()) {
                    messages.add(decode(rows.getLong(1), rows.getString(2), rows.getString(3)));
                }
            }
        }
        return messages;
    }

    /** The highest message id there is, 0 when none. */
    static long lastId(Connection connection) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT coalesce(max(id), 0) FROM kiln_bus");
             ResultSet row = select.executeQuery()) {
            row.next();
            return row.getLong(1);
        }
    }

    /** Deletes the messages older than {@code retention}; returns how many. */
    public static int deleteOlderThan(Connection connection, Duration retention) throws SQLException {
        try (PreparedStatement delete = connection.prepareStatement(
                "DELETE FROM kiln_bus WHERE created < now() - make_interval(secs => ?)")) {
            delete.setDouble(1, retention.toMillis() / 1000.0);
            return delete.executeUpdate();
        }
    }

    /**
     * One message read back, its payload unmodifiable all the way down: the dispatcher hands the
     * same object to every subscriber of the process (see {@link RecentMessages}), so no one may
     * change what the others receive.
     */
    private static Bus.Message decode(long id, String channel, String json) {
        Map<?, ?> message = JSON.readValue(json, Map.class);
        return new Bus.Message(id, channel, (String) message.get("type"), frozen(message.get("payload")));
    }

    private static Object frozen(Object value) {
        if (value instanceof Map<?, ?> map) {
            Map<Object, Object> copy = new LinkedHashMap<>();
            map.forEach((k, v) -> copy.put(k, frozen(v)));
            return Collections.unmodifiableMap(copy);
        }
        if (value instanceof List<?> list) {
            List<Object> copy = new ArrayList<>(list.size());
            list.forEach(v -> copy.add(frozen(v)));
            return Collections.unmodifiableList(copy);
        }
        return value;
    }
}
