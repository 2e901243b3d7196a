package dev.kiln.http;

import dev.kiln.addons.ServerVersion;
import dev.kiln.api.HttpException;
import dev.kiln.api.OdooApi;
import dev.kiln.api.RpcCall;
import dev.kiln.api.RpcFault;
import dev.kiln.auth.Credentials;
import dev.kiln.auth.LoginThrottle;
import dev.kiln.auth.Users;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.Transactions;
import dev.kiln.failure.KilnException;
import dev.kiln.http.BuiltInRoute.Claim;
import dev.kiln.logging.AccessRefusals;
import dev.kiln.models.Integrity;
import dev.kiln.models.Model;
import dev.kiln.models.Models;
import dev.kiln.registry.Registry;
import dev.kiln.registry.TransactionEnv;
import dev.kiln.registry.UnitOfWork;
import dev.kiln.rpc.XmlRpc;
import dev.kiln.rpc.XmlRpcException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Odoo's external API: {@code POST /xmlrpc/2/<service>} (XML-RPC) and {@code POST /jsonrpc}
 * ({@code {"service", "method", "args"}} in JSON-RPC's params), dispatching to the same services.
 * Served: {@code common} — {@code version()}, {@code login(db, login, password)},
 * {@code authenticate(db, login, password, user_agent_env)}, {@code about([extended])} — and
 * {@code object} — {@code execute_kw} and {@code execute}, calling the services addons offer
 * ({@link dev.kiln.api.AddonContext#service}) — and {@code db}, the database manager's methods
 * ({@link DatabaseManagerRoutes#rpc}). A login that fails answers False whether the
 * database, the login or the password was wrong, as Odoo's; the reason goes to the log
 * ({@link AccessRefusals}, {@code --dev=access}).
 * Errors are faults with Odoo's codes (1 application error, 3 access denied) or JSON-RPC errors,
 * never a stack trace outside {@code --dev=debug}. Both endpoints are {@link BuiltInRoute}s of the
 * router. Knows nothing of Jetty.
 */
final class RpcRoutes {

    static final String XMLRPC = "/xmlrpc/2/";
    static final String JSONRPC = "/jsonrpc";

    private static final Logger LOG = LoggerFactory.getLogger(RpcRoutes.class);
    private static final byte[] POST_ONLY = "POST only\n".getBytes(StandardCharsets.UTF_8);

    /** Null when Kiln serves without databases: {@link #withoutDatabases}. */
    private final Databases databases;
    private final boolean debug;
    /** The {@code db} service; null when Kiln serves without databases. */
    private final DatabaseManagerRoutes databaseManager;
    private final AccessRefusals refusals;

    private RpcRoutes(Databases databases, DatabaseManagerRoutes databaseManager, HttpOptions options, AccessRefusals refusals) {
        this.databases = databases;
        this.refusals = refusals;
        this.databaseManager = databaseManager;
        this.debug = options.debug();
    }

    /** Without databases: {@code common.version} and {@code about}; a login is refused, and {@code object} and {@code db} too. */
    static RpcRoutes withoutDatabases(HttpOptions options, AccessRefusals refusals) {
        return new RpcRoutes(null, null, options, refusals);
    }

    static RpcRoutes withDatabases(Databases databases, DatabaseManagerRoutes databaseManager, HttpOptions options,
                                   AccessRefusals refusals) {
        return new RpcRoutes(databases, databaseManager, options, refusals);
    }

    /** Who calls: the host it asked for (dbfilter) and its address (the login cooldown). */
    record Caller(String host, String client) { }

    /** {@code /jsonrpc} and every path under {@code /xmlrpc/2/}, whatever an addon registers there. */
    List<BuiltInRoute> routes() {
        return List.of(
                new BuiltInRoute(JSONRPC, Claim.PATH, List.of(), Failures.Format.JSON_RPC, this::serve),
                new BuiltInRoute(XMLRPC, Claim.PREFIX, List.of(), Failures.Format.XML_RPC, this::serve));
    }

    private Outcome serve(KilnRequest request) {
        String path = request.path();
        if (!"POST".equalsIgnoreCase(request.method())) {
            return Outcome.text(405, POST_ONLY).withHeader("Allow", "POST");
        }
        if (path.equals(JSONRPC) && !request.isJson()) {
            return Outcome.notJson();
        }
        Caller caller = new Caller(request.host(), request.remoteAddress());
        byte[] body;
        try {
            body = request.readBody(HttpOptions.DEFAULT_MAX_BODY);
        } catch (HttpException tooLarge) {
            return path.equals(JSONRPC)
                    ? Outcome.json(JsonRpc.clientError(tooLarge.status(), tooLarge.getMessage()))
                    : Outcome.xml(XmlRpc.fault(RpcFault.APPLICATION_ERROR, tooLarge.getMessage()));
        }
        return path.equals(JSONRPC) ? jsonRpc(body, caller) : xmlRpc(body, path.substring(XMLRPC.length()), caller);
    }

    private Outcome xmlRpc(byte[] body, String service, Caller caller) {
        byte[] answer;
        try {
            XmlRpc.Call call = XmlRpc.readCall(body);
            answer = XmlRpc.response(dispatch(service, call.method(), call.params(), caller));
        } catch (XmlRpcException malformed) {
            answer = XmlRpc.fault(RpcFault.APPLICATION_ERROR, malformed.getMessage());
        } catch (KilnException | RpcFault | CallError.Failed | IllegalArgumentException failure) {
            CallError error = CallError.of(failure);
            if (failure instanceof KilnException) {
                LOG.warn("XML-RPC {}: {}", service, failure.getMessage());
            }
            answer = XmlRpc.fault(error.faultCode(), debug && error.unexpected() ? JsonRpc.stackTrace(failure) : error.message());
        }
        return Outcome.xml(answer);
    }

    private Outcome jsonRpc(byte[] body, Caller caller) {
        JsonRpc.Call call;
        try {
            call = JsonRpc.parse(body);
        } catch (JsonRpc.Invalid invalid) {
            return Outcome.json(JsonRpc.error(invalid));
        }
        JsonNode id = call.id();
        Map<String, Object> params = call.params();
        try {
            if (!(params.get("service") instanceof String service) || !(params.get("method") instanceof String method)) {
                throw RpcFault.badArguments("params must name a service and a method");
            }
            Object args = params.getOrDefault("args", List.of());
            if (!(args instanceof List<?> list)) {
                throw RpcFault.badArguments("args must be a list");
            }
            return Outcome.json(JsonRpc.result(id, dispatch(service, method, new ArrayList<>(list), caller)));
        } catch (KilnException | RpcFault | CallError.Failed | IllegalArgumentException failure) {
            return Outcome.json(JsonRpc.error(id, CallError.of(failure), debug));
        }
    }

    /** One call of {@code service.method(args)}; what it returns is sent as the result. */
    Object dispatch(String service, String method, List<Object> args, Caller caller) {
        if (method.startsWith("_")) {
            throw RpcFault.accessError("Private methods (such as '" + service + "." + method + "') cannot be called remotely.");
        }
        if (service.equals("object")) {
            return object(method, args, caller);
        }
        if (service.equals("db")) {
            if (databaseManager == null) {
                throw new RpcFault(RpcFault.Kind.APPLICATION, "Kiln serves without databases here: no db service");
            }
            try {
                return databaseManager.rpc(method, args);
            } finally {
                databases.selector().refresh();
            }
        }
        if (!service.equals("common")) {
            throw new RpcFault(RpcFault.Kind.APPLICATION, "unknown service '" + service + "'");
        }
        return switch (method) {
            case "version" -> OdooApi.version(ServerVersion.current());
            case "login", "authenticate" -> login(method, text(args, 0, "db"), text(args, 1, "login"), text(args, 2, "password"), caller);
            case "about" -> {
                String about = "Kiln " + ServerVersion.current() + ", serving Odoo's external API";
                yield !args.isEmpty() && Boolean.TRUE.equals(args.getFirst()) ? List.of(about, ServerVersion.current()) : about;
            }
            default -> throw new RpcFault(RpcFault.Kind.APPLICATION, "Method not found: " + method);
        };
    }

    /**
     * {@code object.execute_kw(db, uid, password, service, method, args, kwargs)} and
     * {@code object.execute(db, uid, password, service, method, *args)}: the password is checked,
     * then the method of the service the database's registry offers runs in one transaction (run
     * again on a concurrency failure). A wrong database, user or password is Odoo's "Access Denied"
     * (code 3) alike.
     */
    private Object object(String method, List<Object> args, Caller caller) {
        String host = caller.host();
        boolean keywords = method.equals("execute_kw");
        if (!keywords && !method.equals("execute")) {
            throw new RpcFault(RpcFault.Kind.APPLICATION, "Method not available " + method);
        }
        String db = text(args, 0, "db");
        long uid = number(args, 1, "uid");
        String password = text(args, 2, "password");
        String model = text(args, 3, "model");
        String name = text(args, 4, "method");
        List<Object> positional;
        Map<String, Object> named;
        if (keywords) {
            positional = args.size() > 5 ? list(args.get(5)) : List.of();
            named = args.size() > 6 ? map(args.get(6)) : Map.of();
        } else {
            positional = args.size() > 5 ? args.subList(5, args.size()) : List.of();
            named = Map.of();
        }
        if (databases == null || !databases.selector().visible(host).contains(db)) {
            Users.refuse(password);
            refusals.refused("external API object.{}: uid {} refused for database '{}': database not served for this host",
                    method, uid, db);
            throw RpcFault.accessDenied("Access Denied");
        }
        Credentials credentials = databases.registries().credentials();
        return call(db, model, name, positional, named, caller.client(), connection -> {
            // the password, or an API key in its place as Odoo takes it; from memory when checked before
            String refused = credentials.check(connection, db, uid, password, caller.client());
            if (refused != null) {
                refusals.refused("external API object.{}: uid {} refused for database '{}': {}", method, uid, db,
                        refused.equals(LoginThrottle.MESSAGE) ? "login cooldown (repeated failures)"
                                : "no active user with this id, or a wrong password");
                throw RpcFault.accessDenied(refused);
            }
            return uid;
        });
    }

    /** What {@link Who} threw to refuse the caller, carried out of the transaction as it is. */
    private static final class Refused extends RuntimeException {
        Refused(RuntimeException cause) {
            super(null, cause, false, false);
        }
    }

    /** Who calls, found in the call's transaction before the method runs: a refusal throws. */
    @FunctionalInterface
    interface Who {
        long uid(Connection connection) throws SQLException;
    }

    /**
     * Runs {@code model.name(positional, named)} in database {@code db} as the user {@code who}
     * finds (by the password, the session or the API key), in one transaction, run again on a
     * concurrency failure, with the context class loader of the method's addon: the one path of
     * every external API ({@code execute_kw}, {@code call_kw}, JSON-2). An unknown model is Odoo's
     * user error, an unknown method a server error naming it; a method's own failure is logged
     * with its stack and carried out as a {@link CallError.Failed}.
     */
    Object call(String db, String model, String name, List<Object> positional, Map<String, Object> named, String client,
                Who who) {
        if (name.startsWith("_")) {
            throw RpcFault.accessError("Private methods (such as '" + model + "." + name + "') cannot be called remotely.");
        }
        databases.registries().prepare(db);
        try {
            ConnectionPools primary = databases.pools();
            boolean readsOnly = Models.readsOnly(name);
            long[] caller = {-1};
            Invocation invocation = new Invocation(db, model, name, positional, named, client, who);
            Object answer = ReadOnlyWork.run(primary, readsOnly, () -> db + ": " + model + "." + name,
                    (pools, readOnly, replicaOf) -> attempt(pools, readOnly, replicaOf, invocation, caller));
            if (!readsOnly && caller[0] >= 0) {
                primary.wrote(db, caller[0]);          // with a replica: the user's next reads see this
            }
            if (Models.changesCredentials(model, name)) {
                databases.registries().credentialsChanged(db);     // every process forgets what it remembered
            }
            return answer;
        } catch (RpcFault fault) {
            throw fault;                 // the service's own answer, not a failure to log
        } catch (Refused refused) {
            throw (RuntimeException) refused.getCause();       // the caller's own refusal (an expired session)
        } catch (CallError.Failed failure) {
            LOG.error("{}: {}.{} failed", db, model, name, failure.getCause());
            throw failure;
        } catch (KilnException unavailable) {
            throw unavailable;
        } catch (RuntimeException failure) {
            LOG.error("{}: {}.{} failed", db, model, name, failure);
            throw new CallError.Failed(failure);
        }
    }

    /** What {@link #call} was asked, for each of its tries. */
    private record Invocation(String db, String model, String name, List<Object> positional, Map<String, Object> named,
                              String client, Who who) { }

    /**
     * One try of {@link #call} on {@code pools}, in a read-only transaction when {@code readOnly};
     * on a replica ({@code primary} given), it steps aside for a user whose last write the replica
     * has not replayed yet ({@link ReadOnlyWork}). The caller's uid goes to {@code caller[0]}.
     */
    private Object attempt(ConnectionPools pools, boolean readOnly, ConnectionPools primary, Invocation call, long[] caller) {
        String db = call.db();
        return UnitOfWork.inTransaction(pools, db, scope -> {
            Connection connection = scope.connection();
            if (readOnly) {
                ReadOnlyWork.readOnly(connection);
            }
            long uid;
            try {
                uid = call.who().uid(connection);
            } catch (RpcFault fault) {
                throw fault;
            } catch (RuntimeException refused) {
                throw new Refused(refused);
            }
            caller[0] = uid;
            ReadOnlyWork.stepAsideForOwnWrites(primary, db, uid);
            Registry registry = databases.registries().get(db, connection);
            if (registry.models().get(call.model()).isEmpty()) {    // made by another process a moment ago?
                registry = databases.registries().current(db, connection);
            }
            Model.Invocable method = registry.models().require(call.model()).methods().get(call.name());
            if (method == null) {
                throw unknownMethod(call.model(), call.name());
            }
            TransactionEnv env = scope.enter(new TransactionEnv(databases.pools(), databases.bus(), databases.registries(), db, connection,
                    call.client()));
            return UnitOfWork.asAddon(method.loader(), () -> {
                try {
                    return method.method().call(new RpcCall(env, uid, call.positional(), call.named()));
                } catch (SQLException e) {
                    throw Integrity.fault(e);          // a broken constraint is the caller's; a conflict is retried
                } catch (RuntimeException | Error e) {
                    throw e;
                } catch (Throwable checked) {
                    throw new CallError.Failed(checked);
                }
            });
        });
    }

    private static RpcFault unknownMethod(String model, String name) {
        return new RpcFault(RpcFault.Kind.UNKNOWN_METHOD, "The method '" + model + "." + name + "' does not exist");
    }

    private static long number(List<Object> args, int index, String name) {
        if (args.size() <= index || !(args.get(index) instanceof Number value)) {
            throw RpcFault.badArguments("argument " + (index + 1) + " (" + name + ") must be an integer");
        }
        return value.longValue();
    }

    private static List<Object> list(Object value) {
        if (!(value instanceof List<?> items)) {
            throw RpcFault.badArguments("args must be a list");
        }
        return new ArrayList<>(items);
    }

    private static Map<String, Object> map(Object value) {
        if (!(value instanceof Map<?, ?> entries)) {
            throw RpcFault.badArguments("kwargs must be a struct");
        }
        Map<String, Object> named = new LinkedHashMap<>();
        entries.forEach((k, v) -> named.put(String.valueOf(k), v));
        return named;
    }

    /** The user's id, or False (Odoo's answer) for a wrong database, login or password alike. */
    private Object login(String method, String db, String login, String password, Caller caller) {
        if (databases == null || !databases.selector().visible(caller.host()).contains(db)) {
            Users.refuse(password);
            refusals.refused("external API common.{}: login '{}' to database '{}' refused: database not served for this host",
                    method, login, db);
            return false;
        }
        Users.Login checked = Transactions.inTransaction(databases.pools(), db,
                connection -> Users.authenticate(connection, db, login, password, caller.client(), true));
        if (!checked.ok()) {
            refusals.refused("external API common.{}: login '{}' to database '{}' refused: {}", method, login, db, checked.refusal());
            return false;
        }
        return checked.uid();
    }

    private static String text(List<Object> args, int index, String name) {
        if (args.size() <= index || !(args.get(index) instanceof String value)) {
            throw RpcFault.badArguments("argument " + (index + 1) + " (" + name + ") must be a string");
        }
        return value;
    }
}
