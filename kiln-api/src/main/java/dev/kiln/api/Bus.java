package dev.kiln.api;

import java.time.Duration;
import java.util.Collection;
import java.util.List;

/**
 * The notification bus of a database, Odoo's {@code bus.bus}: messages on named channels, sent from
 * a route handler or a cron job and received by clients waiting on those channels in any Kiln
 * process on the database.
 *
 * <p>A message is written in the caller's transaction (right before its commit, so that message ids
 * follow commit order) and delivered only after it commits: a rollback sends nothing, and a request
 * run again after a serialization failure sends its messages once. Messages are kept for a retention period (see the {@code bus} addon); a client that asks
 * again with the last id it saw gets every later message of its channels, in order, once.
 */
public interface Bus {

    /** Channels {@code user/<uid>} are private: only that user's sessions may receive them. */
    String PRIVATE_PREFIX = "user/";

    /**
     * Whether a client logged in as {@code uid} (empty for a guest) may receive {@code channel}:
     * any channel but another user's {@code user/<uid>}. The websocket and the long poll both apply it.
     */
    static boolean mayReceive(String channel, java.util.OptionalLong uid) {
        if (!channel.startsWith(PRIVATE_PREFIX)) {
            return true;
        }
        return uid.isPresent() && channel.equals(PRIVATE_PREFIX + uid.getAsLong());
    }

    /**
     * Sends {@code payload} on {@code channel} once this transaction commits.
     *
     * @param payload maps with string keys, lists, strings, numbers, booleans or null, nested as
     *                deep as needed; it is stored as JSON
     * @throws IllegalArgumentException when the payload cannot be written as JSON
     */
    void send(String channel, String type, Object payload);

    /**
     * The messages of {@code channels} with an id above {@code lastId}, in id order; waits up to
     * {@code timeout} for one when there is none yet. Returns an empty list at the timeout or when
     * the server stops. It reads outside the caller's transaction, so it sees messages committed
     * after that transaction began; and it commits the caller's transaction before it reads, as
     * Odoo closes the request's cursor, so that a long wait holds no snapshot and no lock: what
     * the caller does after it runs in a new transaction. With {@code lastId} 0 (a client that has
     * seen nothing yet) it returns only the messages of the last 50 seconds, as Odoo does.
     *
     * @throws UnsupportedOperationException in a cron job, whose call must commit once, as a whole
     */
    List<Message> poll(Collection<String> channels, long lastId, Duration timeout) throws InterruptedException;

    /**
     * One message. {@code payload} is the JSON value sent, read back as unmodifiable Java values (the
     * same objects reach every subscriber of the process): {@code Map} for
     * objects, {@code List} for arrays, {@code String}, {@code Number}, {@code Boolean} or null.
     */
    record Message(long id, String channel, String type, Object payload) { }
}
