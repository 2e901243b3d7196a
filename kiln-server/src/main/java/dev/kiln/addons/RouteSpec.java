package dev.kiln.addons;

import dev.kiln.api.Request;
import dev.kiln.api.Route;
import java.util.List;

/**
 * One path of one {@link Route}-annotated method, as registered by an addon.
 *
 * @param methods upper-case HTTP methods; empty means any
 * @param readonly the handler only reads: it may run on a replica
 * @param where   {@code Class.method}, for logs and error messages
 */
public record RouteSpec(String addon, String path, Route.Type type, Route.Auth auth, List<String> methods,
                        boolean csrf, boolean readonly, Handler handler, String where) {

    /** Calls the handler method; for {@code type=http} the result is a {@link dev.kiln.api.Response}. */
    @FunctionalInterface
    public interface Handler {
        Object handle(Request request) throws Throwable;
    }

    public RouteSpec {
        methods = List.copyOf(methods);
    }

    /** True when both routes may answer the same method on the same path string. */
    boolean overlaps(RouteSpec other) {
        if (!path.equals(other.path)) {
            return false;
        }
        if (methods.isEmpty() || other.methods.isEmpty()) {
            return true;
        }
        return methods.stream().anyMatch(other.methods::contains);
    }

    String methodsText() {
        return methods.isEmpty() ? "*" : String.join(",", methods);
    }
}
