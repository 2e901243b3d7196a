package dev.kiln.http;

import dev.kiln.api.HttpException;
import dev.kiln.api.RpcFault;
import dev.kiln.auth.Credentials;
import dev.kiln.failure.KilnException;
import dev.kiln.http.BuiltInRoute.Claim;
import dev.kiln.logging.AccessRefusals;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

/**
 * Odoo 19's JSON-2 API: {@code POST /json/2/<model>/<method>} with the method's arguments by name
 * in a JSON object ({@code ids} the records, {@code context} the context), an API key as
 * {@code Authorization: bearer <key>} and the database in {@code X-Odoo-Database} (or the one this
 * host serves). The answer is the method's result as JSON, not wrapped; an error is Odoo's JSON
 * object ({@code name}, {@code message}, {@code arguments}, {@code context}; {@code debug} only with
 * {@code --dev=debug}) with its HTTP status: 400 a body that is not a JSON object, 401 no key or a
 * wrong one (with {@code WWW-Authenticate: bearer}), 403 an access error, 404 an unknown model,
 * method or database, 415 a body that is not JSON, 422 a user error or arguments that do not fit,
 * 500 the method's own failure. The method runs as {@code execute_kw} runs it ({@link RpcRoutes#call}).
 * Knows nothing of Jetty.
 */
final class Json2Routes {

    static final String PREFIX = "/json/2/";
    private static final Pattern BEARER = Pattern.compile("(?i)^bearer\\s+(\\S+)\\s*$");
    private static final String DATABASE_HEADER = "X-Odoo-Database";

    private final Databases databases;
    private final RpcRoutes rpc;
    private final AccessRefusals refusals;
    private final boolean debug;

    Json2Routes(Databases databases, RpcRoutes rpc, AccessRefusals refusals, HttpOptions options) {
        this.databases = databases;
        this.rpc = rpc;
        this.refusals = refusals;
        this.debug = options.debug();
    }

    List<BuiltInRoute> routes() {
        return List.of(new BuiltInRoute(PREFIX, Claim.PREFIX, List.of(), Failures.Format.JSON_RPC, this::serve));
    }

    /** A refusal before the method runs: the HTTP status, Odoo's exception name and the message. */
    private static final class Refusal extends RuntimeException {
        final int status;
        final String name;

        Refusal(int status, String name, String message) {
            super(message, null, false, false);
            this.status = status;
            this.name = name;
        }
    }

    private Outcome serve(KilnRequest request) {
        try {
            return Outcome.json(200, JsonRpc.JSON.writeValueAsBytes(call(request)));
        } catch (Refusal refusal) {
            Outcome answer = error(refusal.status, refusal.name, refusal.getMessage(), null);
            if (refusal.status == 401) {
                return answer.withHeader("WWW-Authenticate", "bearer");
            }
            return refusal.status == 405 ? answer.withHeader("Allow", "POST") : answer;
        } catch (HttpException http) {
            return error(http.status(), "werkzeug.exceptions." + ErrorPages.reason(http.status()).replace(" ", ""),
                    http.getMessage(), null);
        } catch (KilnException | RpcFault | CallError.Failed | IllegalArgumentException failure) {
            CallError error = CallError.of(failure);
            return error(error.httpStatus(), error.name(), error.message(),
                    debug && error.unexpected() ? JsonRpc.stackTrace(error.failure()) : null);
        }
    }

    private Object call(KilnRequest request) {
        String[] names = request.path().substring(PREFIX.length()).split("/", -1);
        if (names.length != 2 || names[0].isEmpty() || names[1].isEmpty()) {
            throw new Refusal(404, "werkzeug.exceptions.NotFound", "Did you mean POST /json/2/<model>/<method>?");
        }
        if (!"POST".equals(request.method())) {
            throw new Refusal(405, "werkzeug.exceptions.MethodNotAllowed", "JSON-2 calls are POST requests");
        }
        byte[] body = request.body();
        if (body.length > 0 && !request.isJson()) {
            throw new Refusal(415, "werkzeug.exceptions.UnsupportedMediaType", "Send the arguments as JSON (Content-Type: application/json).");
        }
        String key = request.header("Authorization").map(BEARER::matcher).filter(Matcher::matches).map(m -> m.group(1))
                .orElseThrow(() -> new Refusal(401, "werkzeug.exceptions.Unauthorized",
                        "User not authenticated, use an API Key with a Bearer Authorization header."));
        String db = database(request);
        Map<String, Object> named = arguments(body);
        List<Object> positional = new ArrayList<>();
        Object ids = named.remove("ids");
        if (ids != null) {
            if (!(ids instanceof List<?> list) || !list.stream().allMatch(id -> id instanceof Number)) {
                throw RpcFault.badArguments("ids must be a list of record ids");
            }
            positional.add(ids);
        }
        String model = names[0];
        String method = names[1];
        Credentials credentials = databases.registries().credentials();
        return rpc.call(db, model, method, positional, named, request.remoteAddress(), connection -> {
            long uid = credentials.keyUser(connection, db, key);      // from memory when checked before
            if (uid == 0) {
                refusals.refused("JSON-2 {}.{}: API key refused for database '{}': no live key of an active user matches (from {})",
                        model, method, db, request.remoteAddress());
                throw new Refusal(401, "werkzeug.exceptions.Unauthorized", "Invalid apikey");
            }
            return uid;
        });
    }

    /** {@code X-Odoo-Database}, else the one database this host serves; none, or one not served here: 404. */
    private String database(KilnRequest request) {
        Optional<String> header = request.header(DATABASE_HEADER);
        Optional<String> chosen = databases.selector().select(request.host(), header.orElse(null));
        return chosen.orElseThrow(() -> new Refusal(404, "werkzeug.exceptions.NotFound", header.isPresent()
                ? "No database named in X-Odoo-Database is served here."
                : "No database is selected: name it in the X-Odoo-Database header."));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> arguments(byte[] body) {
        if (body.length == 0) {
            return new LinkedHashMap<>();
        }
        JsonNode root;
        try {
            root = JsonRpc.JSON.readTree(body);
        } catch (JacksonException e) {
            throw new Refusal(400, "werkzeug.exceptions.BadRequest", "could not parse the body as JSON");
        }
        if (root == null || !root.isObject()) {
            throw new Refusal(400, "werkzeug.exceptions.BadRequest", "the body must be a JSON object of named arguments");
        }
        return new LinkedHashMap<>(JsonRpc.JSON.treeToValue(root, Map.class));
    }

    /** Odoo's JSON-2 error body with {@code status}. */
    private static Outcome error(int status, String name, String message, String debugText) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", name);
        body.put("message", message);
        body.put("arguments", List.of(message));
        body.put("context", Map.of());
        if (debugText != null) {
            body.put("debug", debugText);
        }
        return Outcome.json(status, JsonRpc.JSON.writeValueAsBytes(body));
    }
}
