package dev.kiln.http;

import dev.kiln.addons.RouteSpec;
import dev.kiln.api.Request;
import dev.kiln.api.Route;
import java.util.List;

/**
 * One of Kiln's own endpoints (the session, the login page, the external API, the database
 * manager), registered in the {@link Router} beside the addons' routes. It chooses its database
 * itself, so it runs as {@code auth=none}; it returns an {@link Outcome} as any route's result
 * becomes one; its failures are the server's own, answered in its {@link Failures.Format}.
 *
 * @param claim   how it holds its path against the addons' routes
 * @param methods the methods it answers; empty: every method (the endpoint answers 405 itself)
 */
record BuiltInRoute(String path, Claim claim, List<String> methods, Failures.Format format, Serve serve) {

    /** The addon name the routes of Kiln itself carry, in logs. */
    static final String OWNER = "kiln";

    enum Claim {
        /** Owns exactly its path, whatever an addon registers there. */
        PATH,
        /** Owns every path starting with its path (which ends with a slash). */
        PREFIX,
        /** Serves its path unless an addon has a route on it. */
        FALLBACK
    }

    /** What the endpoint does with a request. */
    @FunctionalInterface
    interface Serve {
        Outcome serve(KilnRequest request) throws Exception;
    }

    BuiltInRoute {
        methods = List.copyOf(methods);
    }

    /** The route as the router stores it; its handler is a {@link Handler}, which the dispatcher recognises. */
    RouteSpec spec() {
        Route.Type type = format == Failures.Format.JSON_RPC ? Route.Type.JSON : Route.Type.HTTP;
        return new RouteSpec(OWNER, path, type, Route.Auth.NONE, methods, false, false, new Handler(this), "Kiln's " + path);
    }

    /** The handler of a built-in route: its {@link #serve} takes the request as the front door converted it. */
    static final class Handler implements RouteSpec.Handler {
        final BuiltInRoute route;

        Handler(BuiltInRoute route) {
            this.route = route;
        }

        @Override
        public Object handle(Request request) throws Exception {
            return route.serve.serve((KilnRequest) request);
        }
    }
}
