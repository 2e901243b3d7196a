package dev.kiln.http;

import dev.kiln.api.HttpException;
import dev.kiln.api.Env;
import dev.kiln.api.Request;
import java.io.IOException;
import java.io.InputStream;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.eclipse.jetty.http.HttpCookie;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.FormFields;
import org.eclipse.jetty.util.Fields;

/**
 * The {@link Request} handed to handlers: a thin view over Jetty's request that parses query,
 * form, cookies and body only when a handler asks for them (the benchmark route asks for none).
 * Form parameters are read from the body; a handler reads either {@link #params()} or {@link #body()}.
 */
final class KilnRequest implements Request {

    private final org.eclipse.jetty.server.Request jetty;
    private final String path;
    private Map<String, String> pathParams;
    private final HttpOptions options;
    private Fields query;
    private Fields form;
    private byte[] body;
    private Map<String, Object> jsonParams = Map.of();
    private Env env;
    private dev.kiln.auth.Sessions.Session session;

    KilnRequest(org.eclipse.jetty.server.Request jetty, String path, Map<String, String> pathParams, HttpOptions options) {
        this.jetty = jetty;
        this.path = path;
        this.pathParams = pathParams;
        this.options = options;
    }

    void jsonParams(Map<String, Object> params) {
        this.jsonParams = params;
    }

    /** The path parameters of the route matched (set again on each try of a retried transaction). */
    KilnRequest route(Map<String, String> params) {
        this.pathParams = params;
        return this;
    }

    KilnRequest withEnv(Env env) {
        this.env = env;
        return this;
    }

    /** The live session of the request's database (null: a guest); set again on each try. */
    KilnRequest session(dev.kiln.auth.Sessions.Session session) {
        this.session = session;
        return this;
    }

    dev.kiln.auth.Sessions.Session session() {
        return session;
    }

    @Override
    public java.util.OptionalLong uid() {
        return session == null ? java.util.OptionalLong.empty() : java.util.OptionalLong.of(session.uid());
    }

    @Override
    public Optional<String> csrfToken() {
        return session == null ? Optional.empty() : Optional.of(session.csrfToken());
    }

    /** The env the last try ran with, or null when no route ran. */
    Env lastEnv() {
        return env;
    }

    @Override
    public Env env() {
        if (env == null) {
            throw new IllegalStateException(path + " is an auth=none route: it has no database");
        }
        return env;
    }

    @Override
    public String method() {
        return jetty.getMethod();
    }

    @Override
    public String path() {
        return path;
    }

    @Override
    public Optional<String> header(String name) {
        return Optional.ofNullable(jetty.getHeaders().get(name));
    }

    @Override
    public List<String> headers(String name) {
        return jetty.getHeaders().getValuesList(name);
    }

    @Override
    public Optional<String> cookie(String name) {
        List<HttpCookie> cookies = org.eclipse.jetty.server.Request.getCookies(jetty);
        if (cookies != null) {
            for (HttpCookie cookie : cookies) {
                if (cookie.getName().equals(name)) {
                    return Optional.of(cookie.getValue());
                }
            }
        }
        return Optional.empty();
    }

    @Override
    public Optional<String> param(String name) {
        String value = query().getValue(name);
        if (value == null) {
            value = form().getValue(name);
        }
        return Optional.ofNullable(value);
    }

    @Override
    public Map<String, List<String>> params() {
        Map<String, List<String>> all = new LinkedHashMap<>();
        for (Fields fields : List.of(query(), form())) {
            for (Fields.Field field : fields) {
                all.computeIfAbsent(field.getName(), k -> new java.util.ArrayList<>()).addAll(field.getValues());
            }
        }
        all.replaceAll((k, v) -> List.copyOf(v));
        return Collections.unmodifiableMap(all);
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
            body = readBody(jetty, options.maxBodyBytes());
        }
        return body;
    }

    @Override
    public InputStream bodyStream() {
        return body != null ? new java.io.ByteArrayInputStream(body) : Content.Source.asInputStream(jetty);
    }

    @Override
    public Map<String, Object> jsonParams() {
        return jsonParams;
    }

    @Override
    public String remoteAddress() {
        return clientAddress(jetty, options.proxyMode());
    }

    /**
     * Odoo's JSON media types ({@code application/json}, {@code application/json-rpc}), parameters
     * allowed. A JSON route refuses anything else: an HTML form can post {@code text/plain} across
     * sites with the victim's cookie, but not these.
     */
    static boolean isJson(org.eclipse.jetty.server.Request request) {
        String type = request.getHeaders().get(org.eclipse.jetty.http.HttpHeader.CONTENT_TYPE);
        if (type == null) {
            return false;
        }
        int semicolon = type.indexOf(';');
        String media = (semicolon < 0 ? type : type.substring(0, semicolon)).strip();
        return media.equalsIgnoreCase("application/json") || media.equalsIgnoreCase("application/json-rpc");
    }

    boolean isJson() {
        return isJson(jetty);
    }

    /** The client: with proxy mode, the last hop of {@code X-Forwarded-For} (the one our proxy added). */
    static String clientAddress(org.eclipse.jetty.server.Request jetty, boolean proxyMode) {
        if (proxyMode) {
            String forwarded = jetty.getHeaders().get(HttpHeader.X_FORWARDED_FOR);
            if (forwarded != null && !forwarded.isBlank()) {
                int comma = forwarded.lastIndexOf(',');
                return forwarded.substring(comma + 1).strip();
            }
        }
        return org.eclipse.jetty.server.Request.getRemoteAddr(jetty);
    }

    /** The host the client asked for ({@code X-Forwarded-Host} with {@code --proxy-mode}), port included. */
    static String host(org.eclipse.jetty.server.Request jetty, boolean proxyMode) {
        if (proxyMode) {
            String forwarded = jetty.getHeaders().get(HttpHeader.X_FORWARDED_HOST);
            if (forwarded != null && !forwarded.isBlank()) {
                int comma = forwarded.lastIndexOf(',');
                return forwarded.substring(comma + 1).strip();
            }
        }
        String host = jetty.getHeaders().get(HttpHeader.HOST);
        return host == null ? "" : host;
    }

    /** The whole body; over {@code limit} bytes → 413 without reading the rest. */
    static byte[] readBody(org.eclipse.jetty.server.Request jetty, int limit) {
        long declared = jetty.getLength();
        if (declared > limit) {
            throw tooLarge(limit);
        }
        try (InputStream in = Content.Source.asInputStream(jetty)) {
            byte[] bytes = in.readNBytes(limit + 1);
            if (bytes.length > limit) {
                throw tooLarge(limit);
            }
            return bytes;
        } catch (IOException | RuntimeException e) {
            if (e instanceof HttpException http) {
                throw http;
            }
            // Jetty fails the body on bad chunking or a client gone mid-body: the client's fault
            throw malformed("body", e);
        }
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

    private Fields query() {
        if (query == null) {
            try {
                query = jetty.getHttpURI().getQuery() == null ? Fields.EMPTY
                        : org.eclipse.jetty.server.Request.extractQueryParameters(jetty);
            } catch (RuntimeException e) {
                throw malformed("query", e);
            }
        }
        return query;
    }

    private Fields form() {
        if (form == null) {
            String type = jetty.getHeaders().get(HttpHeader.CONTENT_TYPE);
            boolean isForm = type != null && type.regionMatches(true, 0, "application/x-www-form-urlencoded", 0, 33);
            try {
                form = isForm && body == null ? FormFields.getFields(jetty) : Fields.EMPTY;
            } catch (RuntimeException e) {
                // bad %-escapes, invalid UTF-8, a broken body: Jetty's form parser throws
                throw malformed("form", e);
            }
        }
        return form;
    }
}
