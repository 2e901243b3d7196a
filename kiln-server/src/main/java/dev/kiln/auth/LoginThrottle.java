package dev.kiln.auth;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Odoo's login cooldown: after {@link #AFTER} failed logins in a row, further attempts are refused
 * without a password check for {@link #COOLDOWN} since the last failure (Odoo's
 * {@code base.login_cooldown_after} and {@code base.login_cooldown_duration}, with their defaults).
 * Failures count per client address, as Odoo's, and per login of a database, so that many
 * addresses trying one account are slowed too; a successful login clears both. Kept in the
 * process's memory, as Odoo keeps it in its registry: each process of a server counts its own.
 *
 * <p>The maps hold at most {@link #KEPT} entries each: past it, entries whose cooldown has ended
 * are dropped, and if none has, the map starts over (a flood of distinct addresses cannot grow it).
 */
public final class LoginThrottle {

    static final int AFTER = 5;
    static final Duration COOLDOWN = Duration.ofSeconds(60);
    static final int KEPT = 10_000;
    /** What a refused client is told (Odoo's words). */
    public static final String MESSAGE = "Too many login failures, please wait a bit before trying again.";

    private record Failures(int count, long lastNanos) { }

    private final Map<String, Failures> byClient = new ConcurrentHashMap<>();
    private final Map<String, Failures> byLogin = new ConcurrentHashMap<>();
    private final LongSupplier clock;

    /** @param clock nanoseconds, as {@link System#nanoTime} (tests set their own) */
    public LoginThrottle(LongSupplier clock) {
        this.clock = clock;
    }

    public LoginThrottle() {
        this(System::nanoTime);
    }

    /** Why this attempt is refused unchecked, or null when its password may be checked. */
    public String cooldown(String database, String login, String client) {
        long now = clock.getAsLong();
        if (cooling(byClient.get(client), now)) {
            return "login cooldown for client " + client + " (" + AFTER + " failures in a row)";
        }
        if (cooling(byLogin.get(key(database, login)), now)) {
            return "login cooldown for this login (" + AFTER + " failures in a row)";
        }
        return null;
    }

    public void failed(String database, String login, String client) {
        long now = clock.getAsLong();
        count(byClient, client, now);
        count(byLogin, key(database, login), now);
    }

    public void succeeded(String database, String login, String client) {
        byClient.remove(client);
        byLogin.remove(key(database, login));
    }

    private static boolean cooling(Failures failures, long now) {
        return failures != null && failures.count() >= AFTER && now - failures.lastNanos() < COOLDOWN.toNanos();
    }

    private void count(Map<String, Failures> map, String key, long now) {
        if (map.size() >= KEPT) {
            map.values().removeIf(f -> now - f.lastNanos() >= COOLDOWN.toNanos());
            if (map.size() >= KEPT) {
                map.clear();
            }
        }
        map.merge(key, new Failures(1, now), (old, one) -> new Failures(old.count() + 1, now));
    }

    private static String key(String database, String login) {
        return database + "\u0000" + login;
    }
}
