package dev.kiln.auth;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * The external API's credential checks that succeeded, per process, as Odoo caches
 * {@code _check_uid_passwd}: a script sends its password or API key with every call, and a call
 * whose (user, secret) is known here runs without a read of the user or the key. Only successes are
 * kept, the secret only as a SHA-256 digest, a key with its expiry, each for {@link #KEPT_FOR} at
 * most.
 *
 * <p>Kept only while {@code listening} says every signal is heard: a change Kiln makes to a user's
 * credentials (an API key revoked) signals every process when it commits, and each forgets that
 * database's entries ({@link #forget}); a listener that was down forgets everything
 * ({@link #forgetAll}). While it is not listening, nothing is remembered and every call checks. A
 * change made in plain SQL, which signals nothing, holds once the entries it concerns are
 * {@link #KEPT_FOR} old.
 */
public final class Credentials {

    private static final int KEPT = 10_000;
    /** How long a success is trusted without a signal: what bounds a change made in plain SQL. */
    public static final java.time.Duration KEPT_FOR = java.time.Duration.ofMinutes(1);

    /** A user's password ({@code uid} > 0), or an API key whichever user it is of ({@code uid} 0). */
    private record Key(String database, long uid, String digest) { }

    /** Whose, and until when: the key's expiry or {@link #KEPT_FOR} from the check, whichever is first. */
    private record Entry(long uid, Instant expires) { }

    private final ConcurrentHashMap<Key, Entry> known = new ConcurrentHashMap<>();
    /** Moves on every forget: a check that began before one may not remember what it read. */
    private final AtomicLong generation = new AtomicLong();
    private final BooleanSupplier listening;

    public Credentials(BooleanSupplier listening) {
        this.listening = listening;
    }

    /**
     * Whether {@code secret} — the password of user {@code uid}, or one of their API keys (of the
     * external API's scope) — may call as {@code uid}: from memory when it was checked and nothing
     * changed since (no SQL), else checked on {@code connection} ({@link ApiKeys}, then
     * {@link Users#check} with its login cooldown) and remembered when it passes. Null when it may,
     * else why not ({@link Users#check}'s answer).
     */
    public String check(Connection connection, String database, long uid, String secret, String client) throws SQLException {
        if (known(database, uid, secret)) {
            return null;
        }
        long seen = generation.get();
        ApiKeys.Match key = ApiKeys.plausible(secret) ? ApiKeys.match(connection, database, secret, ApiKeys.RPC, uid) : null;
        if (key != null) {
            remember(new Key(database, 0, Passwords.digest(secret)), new Entry(uid, until(key.expires())), seen);
            return null;
        }
        String refused = Users.check(connection, database, uid, secret, client);
        if (refused == null) {
            remember(new Key(database, uid, Passwords.digest(secret)), new Entry(uid, until(null)), seen);
        }
        return refused;
    }

    /**
     * The active user whose live API key (of the external API's scope) {@code key} is: from memory
     * when it was checked and nothing changed since, else checked on {@code connection} and
     * remembered. 0 when there is none.
     */
    public long keyUser(Connection connection, String database, String key) throws SQLException {
        if (key != null && listening.getAsBoolean()) {
            Entry entry = known.get(new Key(database, 0, Passwords.digest(key)));
            if (entry != null && live(entry)) {
                return entry.uid();
            }
        }
        long seen = generation.get();
        ApiKeys.Match match = ApiKeys.match(connection, database, key, ApiKeys.RPC, 0);
        if (match == null) {
            return 0;
        }
        remember(new Key(database, 0, Passwords.digest(key)), new Entry(match.uid(), until(match.expires())), seen);
        return match.uid();
    }

    /** Whether {@code secret} (password or API key) of user {@code uid} was checked and nothing changed since. */
    private boolean known(String database, long uid, String secret) {
        if (secret == null || !listening.getAsBoolean()) {
            return false;
        }
        Entry entry = known.get(new Key(database, uid, Passwords.digest(secret)));
        if (entry == null && ApiKeys.plausible(secret)) {
            entry = known.get(new Key(database, 0, Passwords.digest(secret)));
        }
        return entry != null && entry.uid() == uid && live(entry);
    }

    /** A user or a key of {@code database} changed: its entries go. */
    public void forget(String database) {
        generation.incrementAndGet();
        known.keySet().removeIf(key -> key.database().equals(database));
    }

    /** Changes may have gone unheard: every entry goes. */
    public void forgetAll() {
        generation.incrementAndGet();
        known.clear();
    }

    private synchronized void remember(Key key, Entry entry, long seen) {
        if (!listening.getAsBoolean() || generation.get() != seen) {
            return;
        }
        if (known.size() >= KEPT) {
            known.clear();
        }
        known.put(key, entry);
    }

    private static Instant until(Instant expires) {
        Instant kept = Instant.now().plus(KEPT_FOR);
        return expires == null || kept.isBefore(expires) ? kept : expires;
    }

    private static boolean live(Entry entry) {
        return Instant.now().isBefore(entry.expires());
    }
}
