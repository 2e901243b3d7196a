package dev.kiln.http;

import dev.kiln.api.HttpException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.NullNode;

/**
 * JSON-RPC 2.0 as Odoo's {@code type='json'} routes speak it: a request object whose {@code params}
 * object is handed to the handler, a response carrying {@code result} or {@code error}. Errors keep
 * Odoo's shape ({@code code}, {@code message}, {@code data} with {@code name}, {@code message},
 * {@code arguments}, {@code context}); the stack trace goes in {@code data.debug} and the addon of the
 * route that failed in {@code data.addon} only in debug mode.
 */
final class JsonRpc {

    static final int PARSE_ERROR = -32700, INVALID_REQUEST = -32600, INVALID_PARAMS = -32602;
    /** Odoo 19 answers every server-side failure with code 0, "Odoo Server Error" (code 200 before 18). */
    static final int SERVER_ERROR = 0;
    static final String SERVER_ERROR_MESSAGE = "Odoo Server Error";
    /** Odoo's code for a call that needs a session and has none. */
    static final int SESSION_EXPIRED = 100;

    static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Logger LOG = LoggerFactory.getLogger(JsonRpc.class);

    /** A parsed call, or the error to answer instead. */
    record Call(JsonNode id, Map<String, Object> params) { }

    /** A call that could not be read; {@code id} is echoed when it was readable. */
    static final class Invalid extends Exception {
        final JsonNode id;
        final int code;

        Invalid(JsonNode id, int code, String message) {
            super(message, null, false, false);
            this.id = id;
            this.code = code;
        }
    }

    private JsonRpc() { }

    @SuppressWarnings("unchecked")
    static Call parse(byte[] body) throws Invalid {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (JacksonException e) {
            throw new Invalid(NullNode.instance, PARSE_ERROR, "Parse error: the body is not valid JSON");
        }
        if (root == null || root.isMissingNode() || !root.isObject()) {
            throw new Invalid(NullNode.instance, INVALID_REQUEST, "Invalid Request: the body must be a JSON-RPC object");
        }
        JsonNode id = root.has("id") ? root.get("id") : NullNode.instance;
        JsonNode params = root.get("params");
        if (params == null || params.isNull()) {
            return new Call(id, Map.of());
        }
        if (!params.isObject()) {
            throw new Invalid(id, INVALID_PARAMS, "Invalid params: \"params\" must be an object");
        }
        return new Call(id, JSON.treeToValue(params, Map.class));
    }

    static byte[] result(JsonNode id, Object result) {
        Map<String, Object> body = new LinkedHashMap<>(4);
        body.put("jsonrpc", "2.0");
        body.put("id", id);
        body.put("result", result);
        return JSON.writeValueAsBytes(body);
    }

    /** The answer of a call that returns nothing (Odoo's None): no {@code result} member, as Odoo sends it. */
    static byte[] noResult(JsonNode id) {
        Map<String, Object> body = new LinkedHashMap<>(4);
        body.put("jsonrpc", "2.0");
        body.put("id", id);
        return JSON.writeValueAsBytes(body);
    }

    /** The error of a call that needs a session and has none: Odoo's code 100, which clients answer by logging in again. */
    static byte[] sessionExpired(JsonNode id) {
        return error(id, SESSION_EXPIRED, "Odoo Session Expired", "odoo.http.SessionExpiredException", "Session expired", null);
    }

    /** A client error on a JSON route, in the route's own format: a JSON-RPC error carrying the HTTP status. */
    static byte[] clientError(int status, String detail) {
        return error(null, status, status + ": " + ErrorPages.reason(status), HttpException.class.getName(),
                detail, null);
    }

    /** The answer to a JSON request no route serves: Odoo's JSON-RPC "404: Not Found". */
    static byte[] notFound() {
        return error(null, 404, "404: Not Found", "werkzeug.exceptions.NotFound",
                "The requested URL was not found on the server.", null);
    }

    /** The 415 answer of a JSON route to a body not sent as JSON ({@link KilnRequest#isJson}). */
    static byte[] notJson() {
        return clientError(415, "Send a JSON-RPC call with Content-Type: application/json.");
    }

    static byte[] error(Invalid invalid) {
        return error(invalid.id, invalid.code, invalid.getMessage(), "dev.kiln.http.JsonRpc.InvalidRequest",
                invalid.getMessage(), null);
    }

    /**
     * The error for a handler that threw; in debug mode with the stack trace ({@code data.debug})
     * and {@code addon}, the addon of the route (null: none). When describing the failure fails (an
     * exception whose {@code toString} throws, say) the answer is a plain server error: the
     * response is never lost to its own decoration.
     */
    static byte[] error(JsonNode id, Throwable failure, String addon, boolean debug) {
        try {
            return describe(id, failure, addon, debug);
        } catch (RuntimeException | StackOverflowError broken) {
            LOG.warn("the JSON-RPC error for {} could not be built, a plain one is sent: {}", failure.getClass().getName(),
                    broken.toString());
            return error(id, SERVER_ERROR, SERVER_ERROR_MESSAGE, failure.getClass().getName(), SERVER_ERROR_MESSAGE, null);
        }
    }

    private static byte[] describe(JsonNode id, Throwable failure, String addon, boolean debug) {
        String debugText = debug ? stackTrace(failure) : null;
        String owner = debug ? addon : null;
        if (failure instanceof HttpException http) {
            return error(id, http.status(), http.status() + ": " + ErrorPages.reason(http.status()),
                    failure.getClass().getName(), String.valueOf(http.getMessage()), debugText, owner);
        }
        CallError call = CallError.of(failure);
        return error(id, SERVER_ERROR, SERVER_ERROR_MESSAGE, call.name(), call.message(), debugText, owner);
    }

    /** A failed external-API call ({@code /jsonrpc}, {@code call_kw}): Odoo's name of the error, the stack trace only with {@code debug}. */
    static byte[] error(JsonNode id, CallError call, boolean debug) {
        return error(id, SERVER_ERROR, SERVER_ERROR_MESSAGE, call.name(), call.message(),
                debug && call.unexpected() ? stackTrace(call.failure()) : null);
    }

    static byte[] error(JsonNode id, int code, String message, String name, String detail, String debug) {
        return error(id, code, message, name, detail, debug, null);
    }

    /** Odoo's shape: {@code data} holds name, message, arguments, context and debug (here: debug mode only). */
    static byte[] error(JsonNode id, int code, String message, String name, String detail, String debug, String addon) {
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("name", name);
        data.put("message", detail);
        data.put("arguments", List.of(detail));
        data.put("context", Map.of());
        if (debug != null) {
            data.put("debug", debug);
        }
        if (addon != null) {
            data.put("addon", addon);
        }
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("code", code);
        error.put("message", message);
        error.put("data", data);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("jsonrpc", "2.0");
        body.put("id", id == null ? NullNode.instance : id);
        body.put("error", error);
        return JSON.writeValueAsBytes(body);
    }

    static String stackTrace(Throwable failure) {
        StringWriter out = new StringWriter();
        failure.printStackTrace(new PrintWriter(out));
        return out.toString();
    }
}
