package dev.kiln.http;

import dev.kiln.http.BuiltInRoute.Claim;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;

/**
 * What a process says about itself to load balancers and orchestrators, and the built-in routes
 * that say it:
 * <ul>
 * <li>{@code /web/health}: Odoo's check, unchanged: {@code {"status": "pass"}}; with
 *     {@code ?db_server_status=1} it also asks PostgreSQL and answers 500 when it does not answer.</li>
 * <li>{@code /web/health/live}: the process's loop still turns (it beats at least once a second);
 *     503 when it has not for {@link #FROZEN}: restart the process.</li>
 * <li>{@code /web/health/started}: the start is over (registries of {@code -d} loaded, serving).</li>
 * <li>{@code /web/health/ready}: send traffic here. 503 while starting, while a registry loads,
 *     while PostgreSQL does not answer, and once the process drains (a stop or restart began): a
 *     balancer takes it out before it stops accepting.</li>
 * </ul>
 * The server sets the state ({@link #started}, {@link #draining}, {@link #beat}); the registries
 * say how many of them load now. Each probe answers JSON, {@code no-store}, with the reason of a 503.
 */
public final class Health {

    /** A loop silent this long is frozen: it beats every second, even under load. */
    static final Duration FROZEN = Duration.ofSeconds(10);
    /** How long a PostgreSQL answer counts: probes every few hundred milliseconds ask it once a second at most. */
    private static final Duration DATABASE_FRESH = Duration.ofSeconds(1);

    private final BooleanSupplier databaseAnswers;
    private final IntSupplier loading;
    private volatile boolean started;
    private volatile boolean draining;
    private volatile long beatNanos = System.nanoTime();
    private final ReentrantLock asking = new ReentrantLock();
    private volatile boolean databaseUp = true;
    private volatile long askedNanos = System.nanoTime() - DATABASE_FRESH.toNanos() - 1;

    /**
     * @param databaseAnswers asks PostgreSQL whether it answers (null: the process serves no database)
     * @param loading         the registries being loaded now
     */
    Health(BooleanSupplier databaseAnswers, IntSupplier loading) {
        this.databaseAnswers = databaseAnswers;
        this.loading = loading;
    }

    /** The start is over: the process serves. */
    public void started() {
        started = true;
    }

    /** A stop or a restart began: not ready any more (it serves on until it stops accepting). */
    public void draining() {
        draining = true;
    }

    public boolean isDraining() {
        return draining;
    }

    /** The process's loop turned. */
    public void beat() {
        beatNanos = System.nanoTime();
    }

    /** The four routes, as built-ins: they answer whatever the addons register. */
    List<BuiltInRoute> routes() {
        List<String> methods = List.of("GET", "HEAD");
        return List.of(
                new BuiltInRoute("/web/health", Claim.PATH, methods, Failures.Format.PAGE, this::odoo),
                new BuiltInRoute("/web/health/live", Claim.PATH, methods, Failures.Format.PAGE, request -> live()),
                new BuiltInRoute("/web/health/started", Claim.PATH, methods, Failures.Format.PAGE, request -> startedProbe()),
                new BuiltInRoute("/web/health/ready", Claim.PATH, methods, Failures.Format.PAGE, request -> ready()));
    }

    /** Odoo's /web/health: pass, and with db_server_status the server's answer too. */
    private Outcome odoo(KilnRequest request) {
        String asked = request.queryParam("db_server_status");
        if (asked == null || asked.isEmpty() || asked.equals("0") || asked.equalsIgnoreCase("false")) {
            return answer(200, "{\"status\":\"pass\"}");
        }
        boolean up = databaseAnswers();
        return answer(up ? 200 : 500, "{\"status\":\"" + (up ? "pass" : "fail") + "\",\"db_server_status\":" + up + "}");
    }

    Outcome live() {
        long silent = System.nanoTime() - beatNanos;
        return silent < FROZEN.toNanos() ? answer(200, "{\"status\":\"pass\"}")
                : answer(503, "{\"status\":\"fail\",\"reason\":\"the server loop has not turned for "
                        + Duration.ofNanos(silent).toSeconds() + " s\"}");
    }

    Outcome startedProbe() {
        return started ? answer(200, "{\"status\":\"pass\"}") : answer(503, "{\"status\":\"fail\",\"reason\":\"starting\"}");
    }

    Outcome ready() {
        String reason = !started ? "starting" : draining ? "draining" : loading.getAsInt() > 0 ? "loading a registry"
                : !databaseAnswers() ? "PostgreSQL does not answer" : null;
        return reason == null ? answer(200, "{\"status\":\"pass\"}")
                : answer(503, "{\"status\":\"fail\",\"reason\":\"" + reason + "\"}");
    }

    /** PostgreSQL's last answer, asked again when older than a second; one probe asks while the others read. */
    private boolean databaseAnswers() {
        if (databaseAnswers == null) {
            return true;
        }
        if (System.nanoTime() - askedNanos > DATABASE_FRESH.toNanos() && asking.tryLock()) {
            try {
                databaseUp = databaseAnswers.getAsBoolean();
                askedNanos = System.nanoTime();
            } finally {
                asking.unlock();
            }
        }
        return databaseUp;
    }

    private static Outcome answer(int status, String json) {
        return Outcome.json(status, json.getBytes(StandardCharsets.UTF_8)).withHeader("Cache-Control", "no-store");
    }
}
