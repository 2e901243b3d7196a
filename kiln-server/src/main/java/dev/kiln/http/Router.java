package dev.kiln.http;

import dev.kiln.addons.RouteSpec;
import dev.kiln.failure.KilnException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Maps a decoded path and a method to a route. Paths without parameters live in a hash map (the
 * common case, and the benchmark's: one lookup, no regex, no allocation); parameterised paths
 * ({@code <name>}, {@code <int:name>}, {@code <path:name>}) are tried after, the most literal first,
 * as werkzeug orders its rules. Knows nothing of Jetty.
 *
 * <p>Kiln's built-in routes ({@link BuiltInRoute}) live here beside the addons' and are found the
 * same way, with one precedence rule: a built-in that claims a path or a prefix owns it, whatever
 * an addon registers there (the session, the external API and the database manager are the
 * server's); one that is only a fallback (the login page) yields to an addon's route on its path.
 */
final class Router {

    private static final Logger LOG = LoggerFactory.getLogger(Router.class);

    /** The routes of one path, by method. */
    static final class Endpoint {
        final String path;
        final Map<String, RouteSpec> byMethod = new HashMap<>();
        RouteSpec anyMethod;
        String allow;
        /** A built-in's: no pattern is tried after it, so its 405 stays its own. */
        boolean owned;
        /** The result of each route, built once: a hit on an exact path allocates nothing. */
        private final Map<RouteSpec, Result> results = new HashMap<>();

        Endpoint(String path) {
            this.path = path;
        }

        /** The route answering {@code method}, or null; HEAD falls back to GET. */
        RouteSpec select(String method) {
            RouteSpec route = byMethod.get(method);
            if (route == null) {
                route = anyMethod;
            }
            if (route == null && "HEAD".equals(method)) {
                route = byMethod.get("GET");
            }
            return route;
        }

        void add(RouteSpec route) {
            if (route.methods().isEmpty()) {
                anyMethod = route;
            }
            for (String method : route.methods()) {
                byMethod.put(method, route);
            }
        }

        /** The result for {@code method}, built at start; null when no route answers it. */
        Result hit(String method) {
            RouteSpec route = select(method);
            return route == null ? null : results.get(route);
        }

        void freeze() {
            byMethod.values().forEach(route -> results.put(route, new Result(new Match(route, Map.of()), null)));
            if (anyMethod != null) {
                results.put(anyMethod, new Result(new Match(anyMethod, Map.of()), null));
            }
            TreeSet<String> methods = new TreeSet<>(byMethod.keySet());
            if (methods.contains("GET")) {
                methods.add("HEAD");
            }
            allow = String.join(", ", methods);
        }
    }

    /** A route found for a path; {@code params} is empty for exact paths. */
    record Match(RouteSpec route, Map<String, String> params) { }

    /** Either a {@link Match}, or why not: 404 ({@code allow} null) or 405 with {@code allow}. */
    record Result(Match match, String allow) {
        static final Result NOT_FOUND = new Result(null, null);
    }

    private final Map<String, Endpoint> exact = new HashMap<>();
    private final List<PathPattern> patterns = new ArrayList<>();
    /** Built-ins owning every path under a prefix, tried before anything else (a handful: a short list). */
    private final List<Endpoint> prefixes = new ArrayList<>();

    /** The routes of addons only: a registry's. */
    Router(List<RouteSpec> routes) {
        this(List.of(), routes);
    }

    /** The server-wide router: Kiln's built-in routes, then the addons' under the precedence rule above. */
    Router(List<BuiltInRoute> builtIns, List<RouteSpec> routes) {
        Map<String, PathPattern> byPattern = new LinkedHashMap<>();
        for (RouteSpec route : routes) {
            if (route.path().indexOf('<') < 0) {
                exact.computeIfAbsent(route.path(), Endpoint::new).add(route);
            } else {
                byPattern.computeIfAbsent(route.path(), p -> PathPattern.compile(route)).endpoint.add(route);
            }
        }
        builtIns.forEach(this::mount);
        exact.values().forEach(Endpoint::freeze);
        prefixes.forEach(Endpoint::freeze);
        byPattern.values().forEach(p -> p.endpoint.freeze());
        patterns.addAll(byPattern.values());
        patterns.sort(Comparator.comparingInt(PathPattern::rank));
    }

    private void mount(BuiltInRoute builtIn) {
        RouteSpec route = builtIn.spec();
        switch (builtIn.claim()) {
            case PREFIX -> {
                Endpoint endpoint = new Endpoint(route.path());
                endpoint.owned = true;
                endpoint.add(route);
                prefixes.add(endpoint);
            }
            case PATH -> {
                Endpoint shadowed = exact.get(route.path());
                if (shadowed != null && !shadowed.owned) {
                    LOG.warn("{} is Kiln's own route: the addon route registered there is not served", route.path());
                }
                Endpoint endpoint = shadowed != null && shadowed.owned ? shadowed : new Endpoint(route.path());
                endpoint.owned = true;
                endpoint.add(route);
                exact.put(route.path(), endpoint);
            }
            case FALLBACK -> {
                if (!exact.containsKey(route.path())) {
                    Endpoint endpoint = new Endpoint(route.path());
                    endpoint.add(route);
                    exact.put(route.path(), endpoint);
                }
            }
        }
    }

    /** The exact-path endpoint, or null: the hot path. */
    Endpoint exact(String path) {
        return exact.get(path);
    }

    /**
     * Full resolution: a built-in prefix, the exact path, then patterns; 405 only when some route
     * has the path but none the method. A hit on an exact path allocates nothing.
     */
    Result resolve(String path, String method) {
        for (int i = 0, n = prefixes.size(); i < n; i++) {
            Endpoint prefix = prefixes.get(i);
            if (path.startsWith(prefix.path)) {
                Result hit = prefix.hit(method);
                return hit != null ? hit : new Result(null, prefix.allow);
            }
        }
        Endpoint endpoint = exact.get(path);
        TreeSet<String> allowed = null;
        if (endpoint != null) {
            Result hit = endpoint.hit(method);
            if (hit != null) {
                return hit;
            }
            if (endpoint.owned) {
                return new Result(null, endpoint.allow);
            }
            allowed = new TreeSet<>(List.of(endpoint.allow.split(", ")));
        }
        for (PathPattern pattern : patterns) {
            Map<String, String> params = pattern.match(path);
            if (params == null) {
                continue;
            }
            RouteSpec route = pattern.endpoint.select(method);
            if (route != null) {
                return new Result(new Match(route, params), null);
            }
            if (allowed == null) {
                allowed = new TreeSet<>();
            }
            allowed.addAll(List.of(pattern.endpoint.allow.split(", ")));
        }
        return allowed == null ? Result.NOT_FOUND : new Result(null, String.join(", ", allowed));
    }

    /** A parameterised path, split in segments; each segment is a literal or one whole parameter. */
    static final class PathPattern {
        private static final int LITERAL = 0, STRING = 1, INT = 2, PATH = 3;

        final Endpoint endpoint;
        private final String[] literals;
        private final String[] names;
        private final int[] kinds;

        private PathPattern(String path, String[] literals, String[] names, int[] kinds) {
            this.endpoint = new Endpoint(path);
            this.literals = literals;
            this.names = names;
            this.kinds = kinds;
        }

        static PathPattern compile(RouteSpec route) {
            String[] segments = route.path().substring(1).split("/", -1);
            String[] literals = new String[segments.length];
            String[] names = new String[segments.length];
            int[] kinds = new int[segments.length];
            for (int i = 0; i < segments.length; i++) {
                String segment = segments[i];
                if (segment.startsWith("<") && segment.endsWith(">")) {
                    String spec = segment.substring(1, segment.length() - 1);
                    int colon = spec.indexOf(':');
                    String converter = colon < 0 ? "string" : spec.substring(0, colon);
                    names[i] = colon < 0 ? spec : spec.substring(colon + 1);
                    kinds[i] = switch (converter) {
                        case "string" -> STRING;
                        case "int" -> INT;
                        case "path" -> PATH;
                        default -> throw refuse(route, "converter \"" + converter + "\" is unknown (string, int, path)");
                    };
                    if (names[i].isEmpty() || !names[i].chars().allMatch(Character::isJavaIdentifierPart)) {
                        throw refuse(route, "parameter \"" + spec + "\" has no valid name");
                    }
                    if (kinds[i] == PATH && i != segments.length - 1) {
                        throw refuse(route, "a <path:...> parameter must be the last segment");
                    }
                } else if (segment.indexOf('<') >= 0 || segment.indexOf('>') >= 0) {
                    throw refuse(route, "a parameter must be a whole path segment");
                } else {
                    literals[i] = segment;
                }
            }
            return new PathPattern(route.path(), literals, names, kinds);
        }

        private static KilnException refuse(RouteSpec route, String problem) {
            return KilnException.failure("addon '" + route.addon() + "': route " + route.path() + " of "
                    + route.where() + ": " + problem);
        }

        /** More literal segments first, then fewer catch-all paths: the most specific pattern wins. */
        int rank() {
            int literal = 0, path = 0;
            for (int kind : kinds) {
                if (kind == LITERAL) literal++;
                if (kind == PATH) path++;
            }
            return path * 1000 - literal * 10 - kinds.length;
        }

        /** The parameters, or null when {@code path} does not match. */
        Map<String, String> match(String path) {
            if (path.isEmpty() || path.charAt(0) != '/') {
                return null;
            }
            Map<String, String> params = null;
            int at = 1;
            for (int i = 0; i < kinds.length; i++) {
                if (at > path.length()) {
                    return null;
                }
                if (kinds[i] == PATH) {
                    String rest = path.substring(at);
                    if (rest.isEmpty()) {
                        return null;
                    }
                    params = put(params, names[i], rest);
                    at = path.length() + 1;
                    break;
                }
                int slash = path.indexOf('/', at);
                int end = slash < 0 ? path.length() : slash;
                String segment = path.substring(at, end);
                boolean last = i == kinds.length - 1;
                if (last != (slash < 0)) {
                    return null;
                }
                switch (kinds[i]) {
                    case LITERAL -> {
                        if (!segment.equals(literals[i])) return null;
                    }
                    case STRING -> {
                        if (segment.isEmpty()) return null;
                        params = put(params, names[i], segment);
                    }
                    default -> {
                        if (!isInt(segment)) return null;
                        params = put(params, names[i], segment);
                    }
                }
                at = end + 1;
            }
            return at == path.length() + 1 ? (params == null ? Map.of() : params) : null;
        }

        private static Map<String, String> put(Map<String, String> params, String name, String value) {
            Map<String, String> map = params == null ? new HashMap<>(4) : params;
            map.put(name, value);
            return map;
        }

        /** As werkzeug's IntegerConverter: digits only, fitting a long. */
        private static boolean isInt(String s) {
            if (s.isEmpty() || s.length() > 18) {
                return false;
            }
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c < '0' || c > '9') {
                    return false;
                }
            }
            return true;
        }
    }
}
