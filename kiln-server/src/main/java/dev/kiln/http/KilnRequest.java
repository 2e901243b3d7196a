package dev.kiln.http;

import dev.kiln.addons.RouteSpec;
import dev.kiln.api.Env;
import dev.kiln.api.HttpException;
import dev.kiln.api.Request;
import dev.kiln.auth.Sessions;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A request as the front door converted it, once: the {@link Request} handed to handlers, and what
 * the dispatcher and the built-in routes read (host, client, cookies, the body within its limit).
 * Query, form, cookies and body are parsed only when asked for (the benchmark route asks for none),
 * each at most once. Knows nothing of Jetty: {@link JettyRequest} is the one subclass, so a request
 * is one object however many layers read it.
 *
 * <p>Form parameters are read from the body; a handler reads either {@link #params()} or {@link #body()}.
 */
abstract class KilnRequest implements Request {

    /** Names the database of a request, as Odoo's {@code X-Odoo-Database}. */
    static final String DATABASE_HEADER = "X-Kiln-Database";

    private final String path;
    private final int maxBodyBytes;
    private Map<String, String> pathParams = Map.of();
    /** What the metrics count the request by: its route's pattern once one matched. */
    private String routePattern = "unmatched";
    private Map<String, Object> jsonParams = Map.of();
    private byte[] body;
    private Env env;
    private Sessions.Session session;

    /**
     * @param path         the decoded path; null when it cannot be decoded
     * @param maxBodyBytes the largest body {@link #body()} reads
     */
    KilnRequest(String path, int maxBodyBytes) {
        this.path = path;
        this.maxBodyBytes = maxBodyBytes;
    }

    /** The path as sent, still percent-encoded ("/" when absent): what static files and the logs see. */
    abstract String rawPath();

    /** Whether the path holds something a route must never match (an encoded slash or dot segment...). */
    abstract boolean hasUriViolations();

    /** Why the body's framing is refused (request smuggling), or null. */
    abstract String framingRefusal();

    /** The value of header {@code name}, or null. */
    abstract String headerValue(String name);

    abstract String contentType();

    /** The host the client asked for ({@code X-Forwarded-Host} with {@code --proxy-mode}), port included. */
    abstract String host();

    /** Whether the client reached us over HTTPS (the proxy's word for it only with proxy mode). */
    abstract boolean secure();

    /** The address of the socket's peer, whatever a proxy says: for the log of refused requests. */
    abstract String peerAddress();

    /** The raw query string, or null. */
    abstract String query();

    /** One query parameter, the HTTP parser's failure (a malformed query) thrown as it is. */
    abstract String queryParam(String name);

    /** Every value of the cookies named {@code name}, in the order sent. */
    abstract List<String> cookies(String name);

    /** The whole body; over {@code limit} bytes → 413 without reading the rest; unreadable → 400. */
    abstract byte[] readBody(int limit);

    /** The body as it arrives, unread so far. */
    abstract InputStream rawBodyStream();

    /** The request line and headers for a debug page, every credential masked. */
    abstract String describe();

    /**
     * Claims the response for this request's handler before its transaction commits: when the
     * server answered the request already (a limit's abort), this throws, and the work rolls back.
     */
    abstract void claimResponse();

    /** The status of a failure the HTTP parser raised (a malformed query, say): below 500, else 0. */
    abstract int parserStatus(Throwable failure);

    void jsonParams(Map<String, Object> params) {
        this.jsonParams = params;
    }

    /** The route matched and its path parameters (set again on each try of a retried transaction). */
    KilnRequest route(RouteSpec route, Map<String, String> params) {
        this.pathParams = params;
        this.routePattern = route.path();
        return this;
    }

    /** The request is for a static file. */
    void staticFile() {
        this.routePattern = "static";
    }

    /** The pattern of the route that matched, {@code static}, or {@code unmatched}: never the raw path. */
    String routePattern() {
        return routePattern;
    }

    KilnRequest withEnv(Env env) {
        this.env = env;
        return this;
    }

    /** The live session of the request's database (null: a guest); set again on each try. */
    KilnRequest session(Sessions.Session session) {
        this.session = session;
        return this;
    }

    Sessions.Session session() {
        return session;
    }

    /**
     * Odoo's JSON media types ({@code application/json}, {@code application/json-rpc}), parameters
     * allowed. A JSON route refuses anything else: an HTML form can post {@code text/plain} across
     * sites with the victim's cookie, but not these.
     */
    boolean isJson() {
        String type = contentType();
        if (type == null) {
            return false;
        }
        int semicolon = type.indexOf(';');
        String media = (semicolon < 0 ? type : type.substring(0, semicolon)).strip();
        return media.equalsIgnoreCase("application/json") || media.equalsIgnoreCase("application/json-rpc");
    }

    /** The database asked for: the {@code X-Kiln-Database} header, else {@code ?db=}. */
    String wantedDatabase() {
        String header = headerValue(DATABASE_HEADER);
        if (header != null) {
            return header;
        }
        String query = query();
        return query == null || !query.contains("db=") ? null : queryParam("db");
    }

    /** The session cookie, or null when the request has none Kiln could have made. */
    SessionCookie sessionCookie() {
        for (String value : cookies(SessionCookie.NAME)) {
            SessionCookie parsed = SessionCookie.parse(value);
            if (parsed != null) {
                return parsed;
            }
        }
        return null;
    }

    @Override
    public OptionalLong uid() {
        return session == null ? OptionalLong.empty() : OptionalLong.of(session.uid());
    }

    @Override
    public Optional<String> csrfToken() {
        return session == null ? Optional.empty() : Optional.of(session.csrfToken());
    }

    @Override
    public Env env() {
        if (env == null) {
            throw new IllegalStateException(path + " is an auth=none route: it has no database");
        }
        return env;
    }

    @Override
    public String path() {
        return path;
    }

    @Override
    public Optional<String> header(String name) {
        return Optional.ofNullable(headerValue(name));
    }

    @Override
    public Optional<String> cookie(String name) {
        List<String> values = cookies(name);
        return values.isEmpty() ? Optional.empty() : Optional.of(values.getFirst());
    }

    @Override
    public String pathParam(String name) {
        String value = pathParams.get(name);
        if (value == null) {
            throw new IllegalArgumentException("no path parameter named " + name + " in the route of " + path);
        }
        return value;
    }

    @Override
    public byte[] body() {
        if (body == null) {
            body = readBody(maxBodyBytes);
        }
        return body;
    }

    /** Whether {@link #body()} was read: form parameters then cannot be. */
    boolean bodyRead() {
        return body != null;
    }

    @Override
    public InputStream bodyStream() {
        return body != null ? new ByteArrayInputStream(body) : rawBodyStream();
    }

    @Override
    public Map<String, Object> jsonParams() {
        return jsonParams;
    }

    /** 400 for a part of the request that cannot be read ({@code what}: body, form, query), naming why. */
    static Malformed malformed(String what, Throwable cause) {
        Throwable root = cause;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String why = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        return new Malformed("Malformed request " + what + ": " + why);
    }

    /** The server's 400 for a request it cannot read, even when a handler's read found it. */
    static final class Malformed extends HttpException {
        Malformed(String message) {
            super(400, message);
        }
    }

    static HttpException tooLarge(int limit) {
        return new HttpException(413, "The request body is larger than " + limit + " bytes.");
    }
}
