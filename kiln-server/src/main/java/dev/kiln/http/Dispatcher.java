package dev.kiln.http;

import dev.kiln.addons.LoadedAddon;
import dev.kiln.addons.LoadedAddons;
import dev.kiln.addons.RouteSpec;
import dev.kiln.api.HttpException;
import dev.kiln.api.Route;
import dev.kiln.http.Failures.HandlerFailure;
import dev.kiln.logging.AccessRefusals;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The HTTP application, Odoo's WSGI {@code Application}, behind the front door: a request in, an
 * {@link Outcome} out. Knows nothing of Jetty, nor of the server mode that runs it.
 *
 * <p>Request path: framing check → static file → router (Kiln's built-in routes and the
 * server-wide addons' routes, one table; 405 with {@code Allow}) → an {@code auth=none} route runs
 * at once; anything else goes to the {@link DatabaseRoutes}, which choose a database or answer 404.
 * Every failure becomes an outcome in {@link Failures}, in the format of the route that failed.
 *
 * <p>Static files are matched before the router, on the raw path: their safety checks must see
 * every spelling of {@code ..} before any decoding, and the router only ever sees decoded paths.
 */
final class Dispatcher {

    private final Router router;
    /** The class loader of each server-wide addon that has its own. */
    private final Map<String, ClassLoader> loaders;
    private final StaticFiles statics;
    private final boolean hasStatics;
    private final DatabaseRoutes databases;
    private final AddonCalls calls;
    private final Failures failures;

    private Dispatcher(LoadedAddons addons, List<BuiltInRoute> builtIns, Map<String, Path> staticFolders,
                       DatabaseRoutes databases, AddonCalls calls, Failures failures) {
        this.router = new Router(builtIns, addons.routes());
        this.loaders = loadersOf(addons);
        this.statics = new StaticFiles(staticFolders);
        this.hasStatics = !staticFolders.isEmpty();
        this.databases = databases;
        this.calls = calls;
        this.failures = failures;
    }

    /** Kiln without databases: the addons' static files and {@code auth=none} routes, and the external API's {@code common}. */
    static Dispatcher withoutDatabases(LoadedAddons addons, HttpOptions options, AccessRefusals refusals, Health health) {
        List<BuiltInRoute> builtIns = new ArrayList<>(health.routes());
        builtIns.addAll(RpcRoutes.withoutDatabases(options, refusals).routes());
        return new Dispatcher(addons, builtIns, addons.staticFolders(), new DatabaseRoutes.None(),
                new AddonCalls(refusals), new Failures(options.debug()));
    }

    /**
     * Kiln serving databases: besides, the routes of the addons installed in each, the session and
     * login routes, the whole external API and the database manager.
     *
     * @param staticFolders the static folders served, by addon: every addon on the addons path (as
     *                      Odoo serves the static files of every module it can see)
     */
    static Dispatcher withDatabases(LoadedAddons serverWide, HttpOptions options, AccessRefusals refusals, Databases databases,
                                    Map<String, Path> staticFolders, DatabaseManagerRoutes manager, Health health) {
        List<BuiltInRoute> builtIns = new ArrayList<>(health.routes());
        builtIns.addAll(new SessionRoutes(databases, refusals).routes());
        RpcRoutes rpc = RpcRoutes.withDatabases(databases, manager, options, refusals);
        builtIns.addAll(rpc.routes());
        builtIns.addAll(new WebRoutes(databases, rpc, refusals, options).routes());
        builtIns.addAll(new Json2Routes(databases, rpc, refusals, options).routes());
        builtIns.add(manager.route(databases.selector()));
        AddonCalls calls = new AddonCalls(refusals);
        Failures failures = new Failures(options.debug());
        return new Dispatcher(serverWide, builtIns, staticFolders, new InDatabases(databases, failures, calls, refusals),
                calls, failures);
    }

    /**
     * The outcome of {@code request}; a failure thrown here is answered by {@link #failed}. A JSON
     * request that no route answers gets a JSON-RPC error with code 404, which a JSON client can
     * read, not an HTML page.
     */
    Outcome serve(KilnRequest request) throws Exception {
        Outcome outcome = route(request);
        if (outcome.status() == 404 && outcome instanceof Outcome.Bytes page && page.type() == Outcome.MediaType.HTML
                && request.isJson()) {
            return new Outcome.Bytes(404, Outcome.MediaType.JSON, JsonRpc.notFound(), page.headers());
        }
        return outcome;
    }

    private Outcome route(KilnRequest request) throws Exception {
        String framing = request.framingRefusal();
        if (framing != null) {
            throw new HttpException(400, framing);
        }
        if (hasStatics) {
            String addon = statics.addonOf(request.rawPath());
            if (addon != null) {
                request.staticFile();
                return statics.serve(request, addon);
            }
        }
        String path = request.path();
        // the door lets odd paths through so Kiln answers them; a route never matches one, so an
        // encoded slash or dot cannot reach a route a proxy rule meant to hide
        if (path == null || request.hasUriViolations()) {
            return Outcome.page(404);
        }
        Router.Result found = router.resolve(path, request.method());
        Router.Match match = found.match();
        if (match == null || match.route().auth() != Route.Auth.NONE) {
            return databases.serve(request, found);
        }
        RouteSpec route = match.route();
        request.route(route, match.params());
        if (route.handler() instanceof BuiltInRoute.Handler builtIn) {
            return serveBuiltIn(route, builtIn, request);
        }
        return serveWithoutDatabase(route, request);
    }

    /** The outcome of a failure of {@link #serve}, or of writing its outcome before anything was sent. */
    Outcome failed(KilnRequest request, Throwable failure) {
        return failures.of(request, failure);
    }

    private static Outcome serveBuiltIn(RouteSpec route, BuiltInRoute.Handler builtIn, KilnRequest request) {
        try {
            return builtIn.route.serve().serve(request);
        } catch (Exception failure) {
            throw new HandlerFailure(failure, false, null, route);
        }
    }

    /** An addon's {@code auth=none} route: no database, no transaction; a JSON route's failure is its JSON-RPC error. */
    private Outcome serveWithoutDatabase(RouteSpec route, KilnRequest request) {
        try {
            return calls.call(route, request, loaders.get(route.addon()), null);
        } catch (HandlerFailure failure) {
            if (failure.json) {
                return failures.jsonError(request, failure);
            }
            throw failure;
        }
    }

    /** The class loader of each addon that has one of its own, by name. */
    static Map<String, ClassLoader> loadersOf(LoadedAddons addons) {
        Map<String, ClassLoader> loaders = new HashMap<>();
        for (LoadedAddon addon : addons.addons()) {
            if (addon.classLoader() != null) {
                loaders.put(addon.name(), addon.classLoader());
            }
        }
        return Map.copyOf(loaders);
    }
}
