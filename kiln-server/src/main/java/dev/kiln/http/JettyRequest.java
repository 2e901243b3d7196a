package dev.kiln.http;

import dev.kiln.api.HttpException;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.eclipse.jetty.http.HttpCookie;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.FormFields;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.Fields;

/**
 * Jetty's request converted at the front door: the one place that reads Jetty's request (headers,
 * cookies, query, form, body, the connection), with the server's options (proxy mode, body limit)
 * applied here and nowhere else. What is derived (host, client address) is computed once, when
 * first asked for.
 *
 * <p>How to break it: read Jetty's request past the door (a second converter would apply the
 * options its own way), or answer through it — the response is the door's to write.
 */
final class JettyRequest extends KilnRequest {

    private final Request jetty;
    private final boolean proxyMode;
    private final AbortableResponse abortable;
    private String host;
    private String client;
    private Fields parsedQuery;
    private Fields parsedForm;

    /** @param abortable the response the server may answer in the handler's stead; null when it may not */
    JettyRequest(Request jetty, HttpOptions options, AbortableResponse abortable) {
        super(Request.getPathInContext(jetty), options.maxBodyBytes());
        this.jetty = jetty;
        this.proxyMode = options.proxyMode();
        this.abortable = abortable;
    }

    @Override
    public String method() {
        return jetty.getMethod();
    }

    @Override
    String rawPath() {
        String raw = jetty.getHttpURI().getPath();
        return raw == null ? "/" : raw;
    }

    @Override
    boolean hasUriViolations() {
        return jetty.getHttpURI().hasViolations();
    }

    /**
     * A {@code Transfer-Encoding} other than exactly {@code chunked}, or one on HTTP/1.0, is
     * refused: a proxy in front may frame such a body otherwise than Jetty does (request
     * smuggling); RFC 9112 lets a server refuse them.
     */
    @Override
    String framingRefusal() {
        List<String> codings = jetty.getHeaders().getValuesList(HttpHeader.TRANSFER_ENCODING);
        if (codings.isEmpty()) {
            return null;
        }
        HttpVersion version = jetty.getConnectionMetaData().getHttpVersion();
        if (version != HttpVersion.HTTP_1_1) {
            return "Transfer-Encoding is HTTP/1.1's: refused on " + version;
        }
        if (codings.size() != 1 || !codings.getFirst().strip().equalsIgnoreCase("chunked")) {
            return "Transfer-Encoding must be exactly \"chunked\"";
        }
        return null;
    }

    @Override
    String headerValue(String name) {
        return jetty.getHeaders().get(name);
    }

    @Override
    public List<String> headers(String name) {
        return jetty.getHeaders().getValuesList(name);
    }

    @Override
    String contentType() {
        return jetty.getHeaders().get(HttpHeader.CONTENT_TYPE);
    }

    @Override
    String host() {
        if (host == null) {
            String forwarded = proxyMode ? lastHop(jetty.getHeaders().get(HttpHeader.X_FORWARDED_HOST)) : null;
            String own = jetty.getHeaders().get(HttpHeader.HOST);
            host = forwarded != null ? forwarded : own == null ? "" : own;
        }
        return host;
    }

    /** The client: with proxy mode, the last hop of {@code X-Forwarded-For} (the one our proxy added). */
    @Override
    public String remoteAddress() {
        if (client == null) {
            String forwarded = proxyMode ? lastHop(jetty.getHeaders().get(HttpHeader.X_FORWARDED_FOR)) : null;
            client = forwarded != null ? forwarded : Request.getRemoteAddr(jetty);
        }
        return client;
    }

    @Override
    String peerAddress() {
        return Request.getRemoteAddr(jetty);
    }

    @Override
    boolean secure() {
        if (jetty.isSecure()) {
            return true;
        }
        String proto = proxyMode ? lastHop(jetty.getHeaders().get(HttpHeader.X_FORWARDED_PROTO)) : null;
        return proto != null && proto.equalsIgnoreCase("https");
    }

    /** The last value of a forwarding header (the one our own proxy added), or null when blank. */
    private static String lastHop(String header) {
        if (header == null || header.isBlank()) {
            return null;
        }
        return header.substring(header.lastIndexOf(',') + 1).strip();
    }

    @Override
    String query() {
        return jetty.getHttpURI().getQuery();
    }

    @Override
    String queryParam(String name) {
        return Request.extractQueryParameters(jetty).getValue(name);
    }

    @Override
    List<String> cookies(String name) {
        List<HttpCookie> cookies = Request.getCookies(jetty);
        if (cookies == null || cookies.isEmpty()) {
            return List.of();
        }
        List<String> values = new ArrayList<>(1);
        for (HttpCookie cookie : cookies) {
            if (cookie.getName().equals(name)) {
                values.add(cookie.getValue());
            }
        }
        return values;
    }

    @Override
    public Optional<String> param(String name) {
        String value = queryFields().getValue(name);
        if (value == null) {
            value = formFields().getValue(name);
        }
        return Optional.ofNullable(value);
    }

    @Override
    public Map<String, List<String>> params() {
        Map<String, List<String>> all = new LinkedHashMap<>();
        for (Fields fields : List.of(queryFields(), formFields())) {
            for (Fields.Field field : fields) {
                all.computeIfAbsent(field.getName(), k -> new ArrayList<>()).addAll(field.getValues());
            }
        }
        all.replaceAll((k, v) -> List.copyOf(v));
        return Collections.unmodifiableMap(all);
    }

    @Override
    byte[] readBody(int limit) {
        if (jetty.getLength() > limit) {
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

    @Override
    InputStream rawBodyStream() {
        return Content.Source.asInputStream(jetty);
    }

    @Override
    String describe() {
        StringBuilder text = new StringBuilder(512).append(jetty.getMethod()).append(' ').append(jetty.getHttpURI().getPath());
        String query = query();
        if (query != null) {
            text.append('?').append(ErrorPages.maskQuery(query));
        }
        text.append(' ').append(jetty.getConnectionMetaData().getProtocol()).append('\n');
        for (HttpField field : jetty.getHeaders()) {
            text.append(field.getName()).append(": ")
                    .append(ErrorPages.secret(field.getName()) ? ErrorPages.MASKED : field.getValue()).append('\n');
        }
        return text.toString();
    }

    @Override
    void claimResponse() {
        if (abortable != null) {
            abortable.claim();
        }
    }

    @Override
    int parserStatus(Throwable failure) {
        return failure instanceof org.eclipse.jetty.http.HttpException jettyFailure && jettyFailure.getCode() < 500
                ? jettyFailure.getCode() : 0;
    }

    private Fields queryFields() {
        if (parsedQuery == null) {
            try {
                parsedQuery = query() == null ? Fields.EMPTY : Request.extractQueryParameters(jetty);
            } catch (RuntimeException e) {
                throw malformed("query", e);
            }
        }
        return parsedQuery;
    }

    private Fields formFields() {
        if (parsedForm == null) {
            String type = contentType();
            boolean isForm = type != null && type.regionMatches(true, 0, "application/x-www-form-urlencoded", 0, 33);
            try {
                parsedForm = isForm && !bodyRead() ? FormFields.getFields(jetty) : Fields.EMPTY;
            } catch (RuntimeException e) {
                // bad %-escapes, invalid UTF-8, a broken body: Jetty's form parser throws
                throw malformed("form", e);
            }
        }
        return parsedForm;
    }
}
