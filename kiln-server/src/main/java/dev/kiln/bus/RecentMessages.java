package dev.kiln.bus;

import dev.kiln.api.Bus;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The latest messages of one database, as this process's dispatcher last read them: ONE query per
 * notification (every new message, all channels) instead of one per subscriber. Odoo's websockets
 * each query the table on every notification; with a thousand clients that is a thousand queries
 * per message, which ran Kiln's broadcast latency into seconds.
 *
 * <p>It holds every message with {@code floor < id <= cursor}. It is refreshed before the
 * subscribers of a notification are woken, so a woken subscriber finds every message committed
 * before the notification. Ids become visible in id order (see {@link TransactionBus}), so "above
 * the cursor" is all that can be new. A read it cannot answer (an id below the floor, a fresh
 * client's 0, before its first refresh) returns null: the caller reads the table. After a failed
 * refresh or a reconnection of the listener it starts over from the table's last id, and so it does
 * when the table's last id went below its cursor (the database was made again under its name).
 */
final class RecentMessages {

    /** The most messages kept; older ones are read from the table. */
    static final int CAPACITY = 10_000;

    private final ArrayDeque<Bus.Message> messages = new ArrayDeque<>();
    /** The highest id read, -1 when unknown (not started, or started over). */
    private long cursor = -1;
    private long floor;

    /** Reads what was committed above the cursor (in one query, unless over {@link #CAPACITY}). */
    synchronized void refresh(Connection connection) throws SQLException {
        if (cursor < 0) {
            cursor = BusStore.lastId(connection);
            floor = cursor;
            messages.clear();
            return;
        }
        while (true) {
            List<Bus.Message> read = BusStore.readAll(connection, cursor, CAPACITY);
            if (read.isEmpty() && BusStore.lastId(connection) < cursor) {
                // ids went back: the database was dropped and made again (or restored) under its name
                startOver();
                refresh(connection);
                return;
            }
            for (Bus.Message message : read) {
                messages.addLast(message);
                cursor = message.id();
            }
            while (messages.size() > CAPACITY) {
                floor = messages.removeFirst().id();
            }
            if (read.size() < CAPACITY) {
                return;
            }
        }
    }

    /** Forgets everything: the next refresh starts from the table's last id. */
    synchronized void startOver() {
        cursor = -1;
        messages.clear();
    }

    /** The messages of {@code channels} above {@code lastId} in id order, or null when the table must be read. */
    synchronized List<Bus.Message> read(Collection<String> channels, long lastId) {
        if (cursor < 0 || lastId <= 0 || lastId < floor) {
            return null;
        }
        List<Bus.Message> found = new ArrayList<>();
        if (lastId >= cursor) {
            return found;
        }
        var newest = messages.descendingIterator();
        while (newest.hasNext()) {
            Bus.Message message = newest.next();
            if (message.id() <= lastId) {
                break;
            }
            if (channels.contains(message.channel())) {
                found.add(message);
            }
        }
        return found.reversed();
    }
}
