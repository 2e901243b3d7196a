package dev.kiln.http;

import dev.kiln.addons.RouteSpec;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The short HTML bodies of error responses. A failure's details (exception, stack trace, request,
 * route and addon) appear only in debug mode ({@link #debugPage}), escaped, with every credential
 * the request carried masked; otherwise the page says the status and the details stay in the log.
 */
final class ErrorPages {

    private static final Logger LOG = LoggerFactory.getLogger(ErrorPages.class);
    static final String MASKED = "[masked]";
    /**
     * Parts of the names of headers and query parameters whose values a debug page masks: cookies,
     * Authorization, Proxy-Authorization, API keys, CSRF and session tokens, secrets, passwords
     * (Odoo's master password travels as {@code master_pwd}).
     */
    private static final List<String> SECRET_NAME_PARTS = List.of(
            "cookie", "auth", "key", "token", "secret", "passw", "pwd", "session", "csrf");

    private ErrorPages() { }

    static String reason(int status) {
        if (status == 500) {
            return "Internal Server Error";
        }
        String reason = HttpStatus.getMessage(status);
        return reason == null ? "Error" : reason;
    }

    static byte[] page(int status, String message) {
        String reason = reason(status);
        StringBuilder html = new StringBuilder(256)
                .append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>")
                .append(status).append(' ').append(escape(reason))
                .append("</title></head><body><h1>").append(escape(reason)).append("</h1>");
        if (message != null && !message.isEmpty() && !message.equals(reason)) {
            html.append("<p>").append(escape(message)).append("</p>");
        }
        return html.append("</body></html>\n").toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The page of {@code --dev=debug} for a request that failed: the exception (class and message),
     * the route and the addon that owns it ({@code route} may be null: the failure was not a
     * route's), the request line and headers, and the stack trace. Shows data only, runs nothing.
     * When building it fails (an exception whose {@code toString} throws, say) the client gets
     * {@link #page the plain page} instead: the response is never lost to its own decoration.
     */
    static byte[] debugPage(int status, Throwable failure, Request request, RouteSpec route) {
        try {
            return buildDebugPage(status, failure, request, route);
        } catch (RuntimeException | StackOverflowError broken) {
            LOG.warn("{} {}: the debug page could not be built, the plain page is sent: {}", request.getMethod(),
                    request.getHttpURI().getPath(), broken.toString());
            return page(status, null);
        }
    }

    private static byte[] buildDebugPage(int status, Throwable failure, Request request, RouteSpec route) {
        String reason = reason(status);
        String message = failure.getMessage();
        StringBuilder html = new StringBuilder(4096)
                .append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>")
                .append(status).append(' ').append(escape(reason)).append("</title><style>")
                .append("body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em;overflow:auto}")
                .append("</style></head><body><h1>").append(escape(reason)).append("</h1>")
                .append("<p><i>Shown because Kiln runs with --dev=debug; without it the client sees only the status.</i></p>")
                .append("<h2>").append(escape(failure.getClass().getName()));
        if (message != null) {
            html.append(": ").append(escape(message));
        }
        html.append("</h2>");
        if (route != null) {
            html.append("<p>Route <code>").append(escape(route.path())).append("</code> (type=")
                    .append(route.type().name().toLowerCase(Locale.ROOT)).append(", auth=")
                    .append(route.auth().name().toLowerCase(Locale.ROOT)).append(") of addon <b>")
                    .append(escape(route.addon())).append("</b>, <code>").append(escape(route.where())).append("</code></p>");
        }
        html.append("<h3>Request</h3><pre>").append(escape(requestText(request))).append("</pre>")
                .append("<h3>Stack trace</h3><pre>").append(escape(JsonRpc.stackTrace(failure))).append("</pre>");
        return html.append("</body></html>\n").toString().getBytes(StandardCharsets.UTF_8);
    }

    /** The request line and headers as the client sent them, credentials masked. */
    static String requestText(Request request) {
        StringBuilder text = new StringBuilder(512).append(request.getMethod()).append(' ')
                .append(request.getHttpURI().getPath());
        String query = request.getHttpURI().getQuery();
        if (query != null) {
            text.append('?').append(maskQuery(query));
        }
        text.append(' ').append(request.getConnectionMetaData().getProtocol()).append('\n');
        for (HttpField field : request.getHeaders()) {
            text.append(field.getName()).append(": ").append(secret(field.getName()) ? MASKED : field.getValue()).append('\n');
        }
        return text.toString();
    }

    /** The query string with the value of every parameter named like a credential masked. */
    static String maskQuery(String query) {
        StringBuilder masked = new StringBuilder(query.length());
        for (String pair : query.split("&", -1)) {
            if (!masked.isEmpty()) {
                masked.append('&');
            }
            int equals = pair.indexOf('=');
            String name = equals < 0 ? pair : pair.substring(0, equals);
            if (equals >= 0 && secret(decoded(name))) {
                masked.append(name).append('=').append(MASKED);
            } else {
                masked.append(pair);
            }
        }
        return masked.toString();
    }

    private static String decoded(String name) {
        try {
            return URLDecoder.decode(name, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException malformed) {
            return name;
        }
    }

    /** Whether a header or parameter of this name may carry a credential. */
    static boolean secret(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        for (String part : SECRET_NAME_PARTS) {
            if (lower.contains(part)) {
                return true;
            }
        }
        return false;
    }

    static String escape(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            String entity = switch (c) {
                case '<' -> "&lt;";
                case '>' -> "&gt;";
                case '&' -> "&amp;";
                case '"' -> "&quot;";
                case '\'' -> "&#39;";
                default -> null;
            };
            if (entity != null && out == null) {
                out = new StringBuilder(text.length() + 16).append(text, 0, i);
            }
            if (out != null) {
                if (entity != null) out.append(entity); else out.append(c);
            }
        }
        return out == null ? text : out.toString();
    }
}
