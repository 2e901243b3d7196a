package dev.kiln.http;

import dev.kiln.addons.RouteSpec;
import dev.kiln.api.Response;
import dev.kiln.api.Route;
import dev.kiln.http.Failures.HandlerFailure;
import dev.kiln.logging.AccessRefusals;
import dev.kiln.registry.UnitOfWork;

/**
 * Calls an addon route's handler, with or without a database: with its addon's class loader as the
 * thread's context loader (so the libraries it bundles find their resources), a JSON route's call
 * read from a JSON body, the result turned into an {@link Outcome}. A handler's failure comes out
 * as a {@link HandlerFailure} naming the route, for the caller to answer. Knows nothing of Jetty.
 */
final class AddonCalls {

    private final AccessRefusals refusals;

    AddonCalls(AccessRefusals refusals) {
        this.refusals = refusals;
    }

    /**
     * @param loader the addon's class loader, null when it has none of its own
     * @param db     the database the route runs in, null for an {@code auth=none} route
     */
    Outcome call(RouteSpec route, KilnRequest request, ClassLoader loader, String db) {
        return UnitOfWork.asAddon(loader,
                () -> route.type() == Route.Type.JSON ? callJson(route, request, db) : callHttp(route, request));
    }

    private Outcome callJson(RouteSpec route, KilnRequest request, String db) {
        if (!request.isJson()) {
            refuseNotJson(route, request, db);
            return Outcome.notJson();
        }
        JsonRpc.Call call;
        try {
            call = JsonRpc.parse(request.body());      // 400/413: answered in JSON by Failures
        } catch (JsonRpc.Invalid invalid) {
            return Outcome.json(JsonRpc.error(invalid));
        }
        request.jsonParams(call.params());
        try {
            return Outcome.json(JsonRpc.result(call.id(), route.handler().handle(request)));
        } catch (Throwable failure) {
            throw new HandlerFailure(failure, true, call.id(), route);
        }
    }

    private void refuseNotJson(RouteSpec route, KilnRequest request, String db) {
        if (db == null) {
            refusals.refused("{} {}: JSON route of addon {} refused: Content-Type {}", request.method(), request.path(),
                    route.addon(), request.contentType());
        } else {
            refusals.refused("{} {}: JSON route of addon {} in database '{}' refused: Content-Type {}", request.method(),
                    request.path(), route.addon(), db, request.contentType());
        }
    }

    private static Outcome callHttp(RouteSpec route, KilnRequest request) {
        Object result;
        try {
            result = route.handler().handle(request);
        } catch (Throwable failure) {
            throw new HandlerFailure(failure, false, null, route);
        }
        if (!(result instanceof Response answer)) {
            throw new HandlerFailure(new IllegalStateException(route.where() + " returned "
                    + (result == null ? "null" : result.getClass().getName()) + " instead of a Response"), false, null, route);
        }
        return Outcome.reply(answer);
    }
}
