package dev.kiln.auth;

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

    /** Whether {@code secret} (password or API key) of user {@code uid} was checked and nothing changed since. */
    public boolean known(String database, long uid, String secret) {
        if (secret == null || !listening.getAsBoolean()) {
            return false;
        }
        Entry entry = known.get(new Key(database, uid, Passwords.digest(secret)));
        if (entry == null && ApiKeys.plausible(secret)) {
            entry = known.get(new Key(database, 0, Passwords.digest(secret)));
        }
        return entry != null && entry.uid() == uid && live(entry);
    }

    /** The user of API key {@code key} when it was checked and nothing changed since; 0 otherwise. */
    public long keyUser(String database, String key) {
        if (key == null || !listening.getAsBoolean()) {
            return 0;
        }
        Entry entry = known.get(new Key(database, 0, Passwords.digest(key)));
        return entry != null && live(entry) ? entry.uid() : 0;
    }

    /** To read before a check whose success is to be remembered: see {@link #rememberPassword}. */
    public long generation() {
        return generation.get();
    }

    /**
     * Remembers that {@code password} is user {@code uid}'s, as a check that began at
     * {@code generation} found: not if something changed since (the check may have read the old).
     */
    public void rememberPassword(String database, long uid, String password, long generation) {
        remember(new Key(database, uid, Passwords.digest(password)), new Entry(uid, until(null)), generation);
    }

    /** Remembers that {@code key} is an API key of user {@code uid}, live until {@code expires} (null: no expiry). */
    public void rememberKey(String database, long uid, String key, Instant expires, long generation) {
        remember(new Key(database, 0, Passwords.digest(key)), new Entry(uid, until(expires)), generation);
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
