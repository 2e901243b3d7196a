package dev.kiln.http;

import dev.kiln.KilnException;
import dev.kiln.addons.ServerVersion;
import dev.kiln.auth.Users;
import dev.kiln.db.Transactions;
import dev.kiln.rpc.XmlRpc;
import dev.kiln.rpc.XmlRpcException;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * Odoo's external API: {@code POST /xmlrpc/2/<service>} (XML-RPC) and {@code POST /jsonrpc}
 * ({@code {"service", "method", "args"}} in JSON-RPC's params), dispatching to the same services.
 * Served so far: {@code common} — {@code version()}, {@code login(db, login, password)},
 * {@code authenticate(db, login, password, user_agent_env)}, {@code about([extended])}. A login
 * that fails answers False whether the database, the login or the password was wrong, as Odoo's.
 * Errors are faults with Odoo's codes (1 application error, 3 access denied) or JSON-RPC errors,
 * never a stack trace outside {@code --dev=debug}.
 */
final class RpcRoutes {

    static final String XMLRPC = "/xmlrpc/2/";
    static final String JSONRPC = "/jsonrpc";
    /** Odoo's server version this protocol follows: clients look at {@code server_version_info}. */
    private static final List<Object> SERVER_VERSION_INFO = List.of(19, 0, 0, "final", 0, "");
    private static final String SERVER_SERIE = "19.0";
    private static final int APPLICATION_ERROR = 1;

    private static final Logger LOG = LoggerFactory.getLogger(RpcRoutes.class);

    private final Databases databases;
    private final boolean debug;
    private final boolean proxyMode;

    /** A call the services cannot answer: its fault code and message. */
    static final class Fault extends Exception {
        final int code;

        Fault(int code, String message) {
            super(message, null, false, false);
            this.code = code;
        }
    }

    RpcRoutes(Databases databases, HttpOptions options) {
        this.databases = databases;
        this.debug = options.debug();
        this.proxyMode = options.proxyMode();
    }

    static boolean handles(String path) {
        return path.startsWith(XMLRPC) || path.equals(JSONRPC);
    }

    long handle(Request request, Response response, Callback callback, String method, String path) {
        if (!HttpMethod.POST.is(method)) {
            response.getHeaders().put(HttpHeader.ALLOW, "POST");
            return send(response, callback, 405, "text/plain; charset=utf-8", "POST only\n".getBytes());
        }
        String host = KilnRequest.host(request, proxyMode);
        byte[] body;
        try {
            body = KilnRequest.readBody(request, HttpOptions.DEFAULT_MAX_BODY);
        } catch (dev.kiln.api.HttpException tooLarge) {
            return path.equals(JSONRPC)
                    ? json(response, callback, JsonRpc.error(null, tooLarge.status(), tooLarge.getMessage(),
                            dev.kiln.api.HttpException.class.getName(), tooLarge.getMessage(), null))
                    : xml(response, callback, XmlRpc.fault(APPLICATION_ERROR, tooLarge.getMessage()));
        }
        return path.equals(JSONRPC)
                ? jsonRpc(response, callback, body, host)
                : xmlRpc(response, callback, body, path.substring(XMLRPC.length()), host);
    }

    private long xmlRpc(Response response, Callback callback, byte[] body, String service, String host) {
        byte[] answer;
        try {
            XmlRpc.Call call = XmlRpc.readCall(body);
            answer = XmlRpc.response(dispatch(service, call.method(), call.params(), host));
        } catch (XmlRpcException malformed) {
            answer = XmlRpc.fault(APPLICATION_ERROR, malformed.getMessage());
        } catch (Fault fault) {
            answer = XmlRpc.fault(fault.code, fault.getMessage());
        } catch (KilnException | IllegalArgumentException failure) {
            LOG.warn("XML-RPC {}: {}", service, failure.getMessage());
            answer = XmlRpc.fault(APPLICATION_ERROR, failure.getMessage());
        }
        return xml(response, callback, answer);
    }

    private long jsonRpc(Response response, Callback callback, byte[] body, String host) {
        JsonRpc.Call call;
        try {
            call = JsonRpc.parse(body);
        } catch (JsonRpc.Invalid invalid) {
            return json(response, callback, JsonRpc.error(invalid));
        }
        JsonNode id = call.id();
        Map<String, Object> params = call.params();
        try {
            if (!(params.get("service") instanceof String service) || !(params.get("method") instanceof String method)) {
                throw new Fault(APPLICATION_ERROR, "params must name a service and a method");
            }
            Object args = params.getOrDefault("args", List.of());
            if (!(args instanceof List<?> list)) {
                throw new Fault(APPLICATION_ERROR, "args must be a list");
            }
            return json(response, callback, JsonRpc.result(id, dispatch(service, method, new java.util.ArrayList<>(list), host)));
        } catch (Fault fault) {
            return json(response, callback, JsonRpc.error(id, JsonRpc.SERVER_ERROR, "Kiln Server Error",
                    fault.code == 3 ? "dev.kiln.AccessDenied" : "dev.kiln.RpcError", fault.getMessage(), null));
        } catch (KilnException | IllegalArgumentException failure) {
            return json(response, callback, JsonRpc.error(id, JsonRpc.SERVER_ERROR, "Kiln Server Error",
                    failure.getClass().getName(), failure.getMessage(), debug ? JsonRpc.stackTrace(failure) : null));
        }
    }

    /** One call of {@code service.method(args)}; what it returns is sent as the result. */
    Object dispatch(String service, String method, List<Object> args, String host) throws Fault {
        if (method.startsWith("_")) {
            throw new Fault(APPLICATION_ERROR, "private methods (" + method + ") cannot be called");
        }
        if (!service.equals("common")) {
            throw new Fault(APPLICATION_ERROR, "unknown service '" + service + "'");
        }
        return switch (method) {
            case "version" -> version();
            case "login" -> login(text(args, 0, "db"), text(args, 1, "login"), text(args, 2, "password"), host);
            case "authenticate" -> login(text(args, 0, "db"), text(args, 1, "login"), text(args, 2, "password"), host);
            case "about" -> {
                String about = "Kiln " + ServerVersion.current() + ", serving Odoo's external API";
                yield !args.isEmpty() && Boolean.TRUE.equals(args.getFirst()) ? List.of(about, SERVER_SERIE) : about;
            }
            default -> throw new Fault(APPLICATION_ERROR, "unknown method 'common." + method + "'");
        };
    }

    private static Map<String, Object> version() {
        Map<String, Object> version = new LinkedHashMap<>();
        version.put("server_version", SERVER_SERIE);
        version.put("server_version_info", SERVER_VERSION_INFO);
        version.put("server_serie", SERVER_SERIE);
        version.put("protocol_version", 1);
        version.put("kiln_version", ServerVersion.current());
        return version;
    }

    /** The user's id, or False (Odoo's answer) for a wrong database, login or password alike. */
    private Object login(String db, String login, String password, String host) {
        if (databases == null || !databases.selector().visible(host).contains(db)) {
            Users.refuse(password);
            return false;
        }
        OptionalLong uid = Transactions.inTransaction(databases.pools(), db, connection -> Users.authenticate(connection, login, password));
        return uid.isPresent() ? (Object) uid.getAsLong() : false;
    }

    private static String text(List<Object> args, int index, String name) throws Fault {
        if (args.size() <= index || !(args.get(index) instanceof String value)) {
            throw new Fault(APPLICATION_ERROR, "argument " + (index + 1) + " (" + name + ") must be a string");
        }
        return value;
    }

    private static long xml(Response response, Callback callback, byte[] body) {
        return send(response, callback, 200, "text/xml; charset=utf-8", body);
    }

    private static long json(Response response, Callback callback, byte[] body) {
        return send(response, callback, 200, "application/json", body);
    }

    private static long send(Response response, Callback callback, int status, String type, byte[] body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
        return body.length;
    }
}
