package dev.kiln.http;

import dev.kiln.addons.ServerVersion;
import dev.kiln.api.HttpException;
import dev.kiln.api.OdooApi;
import dev.kiln.api.RpcFault;
import dev.kiln.auth.Passwords;
import dev.kiln.db.DatabaseException;
import dev.kiln.failure.KilnException;
import dev.kiln.http.BuiltInRoute.Claim;
import dev.kiln.logging.AccessRefusals;
import dev.kiln.registry.DatabaseService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.Base64Variants;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.databind.JsonNode;

import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Odoo's {@code /web/database/*} JSON-RPC routes: {@code list} (no password), and {@code create},
 * {@code drop}, {@code duplicate}, {@code backup}, {@code restore}, each with {@code master_pwd}.
 * The master password is checked first, always, with one PBKDF2 verification whatever the database,
 * so a wrong password gets the same answer in the same time whether or not the database exists.
 * Without {@code admin_passwd} every guarded route is refused (Odoo's default 'admin' is a known
 * password; Kiln has none until the operator sets one). With {@code list_db = False} every path
 * under {@code /web/database/} answers 404. Backups travel base64-encoded in the JSON (params
 * {@code backup_file} in, {@code result.backup_file} out) and are bounded by {@link #MAX_ARCHIVE_BYTES};
 * larger databases are for {@code kiln db backup/restore}. Every refusal is logged with its reason
 * ({@link AccessRefusals}, {@code --dev=access}). The routes are one {@link BuiltInRoute} owning
 * the prefix. Knows nothing of Jetty.
 */
public final class DatabaseManagerRoutes {

    public static final String PREFIX = "/web/database/";
    /** The largest restore request read (a base64 archive of about 384 MiB). */
    static final int MAX_ARCHIVE_BYTES = 512 * 1024 * 1024;
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseManagerRoutes.class);
    private static final String ACCESS_DENIED = "Access Denied";

    private final DatabaseService service;
    private final String masterHash;
    private final boolean listDb;
    private final Function<String, List<String>> visible;
    private final boolean debug;
    private final AccessRefusals refusals;

    /**
     * @param adminPasswd {@code admin_passwd} as configured: a passlib hash, clear text (hashed here,
     *                    once, so every check costs the same) or null for none
     * @param debug       {@code --dev=debug}: stack traces in JSON-RPC errors
     * @param access      {@code --dev=access}: refusals logged at INFO
     * @param visible     the databases a request's host may see ({@code dbfilter}): {@code /web/database/list}
     *                    shows only those, as Odoo's does, so that one tenant's host does not list the others
     */
    public DatabaseManagerRoutes(DatabaseService service, String adminPasswd, boolean listDb, boolean debug, boolean access,
                                 Function<String, List<String>> visible) {
        this.visible = visible;
        this.service = service;
        this.masterHash = adminPasswd == null ? null : Passwords.isHash(adminPasswd) ? adminPasswd : Passwords.hash(adminPasswd);
        this.listDb = listDb;
        this.debug = debug;
        this.refusals = new AccessRefusals(access);
    }

    /**
     * Every path under {@link #PREFIX}, whatever an addon registers there; the list of databases
     * is read again after each request, which may have changed it.
     */
    BuiltInRoute route(DatabaseSelector selector) {
        return new BuiltInRoute(PREFIX, Claim.PREFIX, List.of(), Failures.Format.JSON_RPC, request -> {
            try {
                return serve(request);
            } finally {
                selector.refresh();
            }
        });
    }

    private Outcome serve(KilnRequest request) {
        String path = request.path();
        String action = path.substring(PREFIX.length());
        if (!listDb) {
            refusals.refused("{} {}: database manager refused: list_db = False", request.method(), path);
            return Outcome.page(404);
        }
        if (!isAction(action)) {
            return Outcome.page(404);
        }
        if (!"POST".equalsIgnoreCase(request.method())) {
            return Outcome.notAllowed("POST");
        }
        if (!request.isJson()) {
            return Outcome.notJson();
        }
        if (action.equals("restore")) {
            return restoreStreamed(request, path);
        }
        byte[] body;
        try {
            body = request.readBody(HttpOptions.DEFAULT_MAX_BODY);
        } catch (HttpException tooLarge) {
            return Outcome.json(tooLarge.status(), JsonRpc.clientError(tooLarge.status(), tooLarge.getMessage()));
        }
        JsonRpc.Call call;
        try {
            call = JsonRpc.parse(body);
        } catch (JsonRpc.Invalid invalid) {
            return Outcome.json(JsonRpc.error(invalid));
        }
        JsonNode id = call.id();
        Map<String, Object> params = call.params();
        try {
            if (action.equals("list")) {
                return Outcome.json(JsonRpc.result(id, visible.apply(request.host())));
            }
            authorize(params, path);
            return Outcome.json(JsonRpc.result(id, run(action, params)));
        } catch (Refused refused) {
            return Outcome.json(JsonRpc.error(id, JsonRpc.SERVER_ERROR, JsonRpc.SERVER_ERROR_MESSAGE,
                    RpcFault.Kind.ACCESS_DENIED.odooName(), refused.getMessage(), null));
        } catch (KilnException | IllegalArgumentException failure) {
            return Outcome.json(JsonRpc.error(id, JsonRpc.SERVER_ERROR, JsonRpc.SERVER_ERROR_MESSAGE,
                    failure.getClass().getName(), failure.getMessage(), debug ? JsonRpc.stackTrace(failure) : null));
        }
    }

    /**
     * Odoo's {@code db} service of the external API, guarded as the routes are: {@code list} needs
     * {@code list_db}; {@code create_database}, {@code drop}, {@code duplicate_database},
     * {@code dump} and {@code restore} take the master password first and need {@code list_db}
     * too; {@code db_exist}, {@code server_version} and {@code list_lang} answer anyone.
     *
     * @throws RpcFault access denied (3) for a refusal, application error (1) otherwise
     */
    Object rpc(String method, List<Object> args) {
        switch (method) {
            case "db_exist" -> {
                return args.size() > 0 && args.get(0) instanceof String name && service.list().contains(name);
            }
            case "server_version" -> {
                return OdooApi.VERSION;
            }
            case "list_lang" -> {
                return List.of(List.of("en_US", "English (US)"));
            }
            case "list", "create_database", "drop", "duplicate_database", "dump", "restore" -> { }
            default -> throw new RpcFault(RpcFault.Kind.APPLICATION, "Method not found: " + method);
        }
        if (!listDb) {
            refusals.refused("external API db.{}: database manager refused: list_db = False", method);
            throw RpcFault.accessDenied("the database list and manager are disabled (list_db = False)");
        }
        if (method.equals("list")) {
            return service.list();
        }
        Map<String, Object> params = new HashMap<>();
        params.put("master_pwd", args.isEmpty() ? null : args.get(0));
        try {
            authorize(params, "external API db." + method);
        } catch (Refused refused) {
            throw RpcFault.accessDenied(refused.getMessage());
        }
        // Odoo's positional arguments after the master password
        String action = switch (method) {
            case "create_database" -> {
                put(params, "name", args, 1);
                put(params, "password", args, 4);
                put(params, "login", args, 5);
                params.putIfAbsent("password", "admin");
                yield "create";
            }
            case "drop" -> {
                put(params, "name", args, 1);
                yield "drop";
            }
            case "duplicate_database" -> {
                put(params, "name", args, 1);
                put(params, "new_name", args, 2);
                yield "duplicate";
            }
            case "dump" -> {
                put(params, "name", args, 1);
                yield "backup";
            }
            default -> {
                put(params, "name", args, 1);
                put(params, "backup_file", args, 2);
                yield "restore";
            }
        };
        Object result = run(action, params);
        return action.equals("backup") ? ((Map<?, ?>) result).get("backup_file") : result;
    }

    private static void put(Map<String, Object> params, String key, List<Object> args, int index) {
        if (args.size() > index && args.get(index) != null) {
            params.put(key, args.get(index));
        }
    }

    private static boolean isAction(String action) {
        return switch (action) {
            case "list", "create", "drop", "duplicate", "backup", "restore" -> true;
            default -> false;
        };
    }

    /** @param what the path or method asked for, for the log of refusals */
    private void authorize(Map<String, Object> params, String what) {
        if (masterHash == null) {
            refusals.refused("{}: database manager refused: no admin_passwd is set", what);
            throw new Refused("the database manager is disabled: set admin_passwd in the config file "
                    + "(or KILN_ADMIN_PASSWD) to use it");
        }
        Object given = params.get("master_pwd");
        if (!Passwords.verify(given instanceof String s ? s : "", masterHash)) {
            refusals.refused("{}: database manager refused: {} master password", what,
                    given instanceof String s && !s.isEmpty() ? "wrong" : "no");
            throw new Refused(ACCESS_DENIED);
        }
    }

    private Object run(String action, Map<String, Object> params) {
        String name = text(params, "name");
        Object result = switch (action) {
            case "create" -> {
                service.create(name, params.getOrDefault("login", "admin").toString(), text(params, "password"));
                yield true;
            }
            case "drop" -> {
                service.drop(name);
                yield true;
            }
            case "duplicate" -> {
                service.duplicate(name, text(params, "new_name"));
                yield true;
            }
            case "backup" -> Map.of("name", name + ".zip", "backup_file", backup(name));
            case "restore" -> {
                restore(name, text(params, "backup_file"));
                yield true;
            }
            default -> throw new IllegalStateException(action);
        };
        if (!action.equals("list")) {
            LOG.info("database manager: {} '{}' done", action, name);
        }
        return result;
    }

    private String backup(String name) {
        Path file = null;
        try {
            file = Files.createTempFile("kiln-backup", ".zip");
            service.backup(name, file);
            return Base64.getEncoder().encodeToString(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new DatabaseException(DatabaseException.Reason.FAILED, "cannot back up database '" + name + "': " + e.getMessage(), e);
        } finally {
            deleteQuietly(file);
        }
    }

    /**
     * {@code /web/database/restore}, read as it arrives: {@code params.master_pwd} is checked as
     * soon as it is read, before a byte of the archive, and {@code params.backup_file} (base64) is
     * decoded straight to a temporary file, at most {@link #MAX_ARCHIVE_BYTES} of body. So a wrong
     * password costs the sender nothing but its own upload, and no archive is ever held in memory
     * (nor hits the JSON parser's string limit). {@code master_pwd} must come before
     * {@code backup_file}, as every client builds the call. A refusal closes the connection: the
     * rest of the body is not read.
     */
    private Outcome restoreStreamed(KilnRequest request, String path) {
        Path archive = null;
        try (InputStream in = new LimitedInput(request.rawBodyStream(), MAX_ARCHIVE_BYTES);
             JsonParser parser = JsonRpc.JSON.createParser(in)) {
            String name = null;
            boolean authorized = false;
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException("the body must be a JSON-RPC call (an object)");
            }
            while (parser.nextToken() == JsonToken.PROPERTY_NAME) {
                String field = parser.currentName();
                parser.nextToken();
                if (!field.equals("params")) {
                    parser.skipChildren();
                    continue;
                }
                if (parser.currentToken() != JsonToken.START_OBJECT) {
                    throw new IllegalArgumentException("params must be an object");
                }
                while (parser.nextToken() == JsonToken.PROPERTY_NAME) {
                    String param = parser.currentName();
                    JsonToken value = parser.nextToken();
                    switch (param) {
                        case "master_pwd" -> {
                            authorize(Collections.singletonMap("master_pwd",
                                    value == JsonToken.VALUE_STRING ? parser.getString() : null), path);
                            authorized = true;
                        }
                        case "name" -> name = value == JsonToken.VALUE_STRING ? parser.getString() : null;
                        case "backup_file" -> {
                            if (!authorized) {
                                throw new IllegalArgumentException("send master_pwd before backup_file");
                            }
                            if (value != JsonToken.VALUE_STRING) {
                                throw new IllegalArgumentException("backup_file must be the backup zip in base64");
                            }
                            archive = Files.createTempFile("kiln-restore", ".zip");
                            try (OutputStream out = Files.newOutputStream(archive)) {
                                parser.readBinaryValue(Base64Variants.MIME, out);
                            }
                        }
                        default -> parser.skipChildren();
                    }
                }
            }
            if (!authorized) {
                authorize(Map.of(), path);
            }
            if (name == null || name.isEmpty() || archive == null) {
                throw new IllegalArgumentException("missing parameter '" + (name == null || name.isEmpty() ? "name" : "backup_file") + "'");
            }
            service.restore(name, archive);
            LOG.info("database manager: restore '{}' done", name);
            return Outcome.json(JsonRpc.result(null, true));
        } catch (Refused refused) {
            return Outcome.json(JsonRpc.error(null, JsonRpc.SERVER_ERROR, JsonRpc.SERVER_ERROR_MESSAGE,
                    RpcFault.Kind.ACCESS_DENIED.odooName(), refused.getMessage(), null)).withHeader("Connection", "close");  // the archive that follows is not read
        } catch (LimitedInput.TooLarge tooLarge) {
            return malformed(413, KilnRequest.tooLarge(MAX_ARCHIVE_BYTES).getMessage());
        } catch (JacksonException | IllegalArgumentException malformed) {
            return malformed(400, "Malformed restore call: " + (malformed instanceof JacksonException jackson
                    ? jackson.getOriginalMessage() : malformed.getMessage()));
        } catch (KilnException failure) {
            return Outcome.json(JsonRpc.error(null, JsonRpc.SERVER_ERROR, JsonRpc.SERVER_ERROR_MESSAGE,
                    failure.getClass().getName(), failure.getMessage(), debug ? JsonRpc.stackTrace(failure) : null));
        } catch (IOException e) {
            return malformed(400, "Malformed request body: " + e.getMessage());
        } finally {
            deleteQuietly(archive);
        }
    }

    /** An input stream that fails once more than {@code limit} bytes were read from it. */
    private static final class LimitedInput extends FilterInputStream {

        static final class TooLarge extends IOException {
            TooLarge() {
                super("body over the limit", null);
            }
        }

        private long left;

        LimitedInput(InputStream in, long limit) {
            super(in);
            this.left = limit;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0 && --left < 0) {
                throw new TooLarge();
            }
            return b;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            int n = super.read(buffer, offset, length);
            if (n > 0 && (left -= n) < 0) {
                throw new TooLarge();
            }
            return n;
        }
    }

    private void restore(String name, String base64) {
        byte[] archive;
        try {
            archive = Base64.getMimeDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("backup_file must be the backup zip in base64");
        }
        service.restore(name, new ByteArrayInputStream(archive), Path.of(System.getProperty("java.io.tmpdir")));
    }

    private static String text(Map<String, Object> params, String key) {
        Object value = params.get(key);
        if (!(value instanceof String s) || s.isEmpty()) {
            throw new IllegalArgumentException("missing parameter '" + key + "'");
        }
        return s;
    }

    /** A restore call refused for its body, whose rest is not read: the connection closes after the answer. */
    private static Outcome malformed(int status, String detail) {
        return Outcome.json(status, JsonRpc.clientError(status, detail)).withHeader("Connection", "close");
    }

    private static void deleteQuietly(Path file) {
        try {
            if (file != null) {
                Files.deleteIfExists(file);
            }
        } catch (IOException ignored) {
            // a temporary file; the OS cleans its temp folder
        }
    }

    /** A refusal by the master password check; its message is all the client learns. */
    private static final class Refused extends RuntimeException {
        Refused(String message) {
            super(message, null, false, false);
        }
    }
}
