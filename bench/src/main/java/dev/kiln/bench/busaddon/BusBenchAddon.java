package dev.kiln.bench.busaddon;

import dev.kiln.api.Addon;
import dev.kiln.api.AddonContext;
import dev.kiln.api.Request;
import dev.kiln.api.Response;
import dev.kiln.api.Route;

import java.time.Instant;
import java.util.Map;

/**
 * The sender of the bus benchmark (bench/bus), packed by the bench module as an addon of its own
 * ({@code bus_bench.jar}): {@code GET /bus_bench/send?channel=C&seq=N} sends one message on C, in
 * the request's transaction, stamped with the wall clock (microseconds since the epoch) of the
 * send, right before the commit. Never bundled: an HTTP route that lets anyone send is for
 * measuring only.
 */
public final class BusBenchAddon implements Addon {

    @Override
    public void register(AddonContext context) {
        context.routes(this);
    }

    @Route(value = "/bus_bench/send", auth = Route.Auth.PUBLIC, methods = "GET")
    public Response send(Request request) {
        Instant now = Instant.now();
        long micros = now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
        request.env().bus().send(request.param("channel").orElseThrow(), "bench",
                Map.of("seq", Long.parseLong(request.param("seq").orElse("0")), "t", micros));
        return Response.text("sent\n");
    }
}
