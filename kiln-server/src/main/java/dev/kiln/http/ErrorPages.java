package dev.kiln.http;

import dev.kiln.addons.RouteSpec;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The short HTML bodies of error responses. A failure's details (exception, stack trace, request,
 * route and addon) appear only in debug mode ({@link #debugPage}), escaped, with every credential
 * the request carried masked; otherwise the page says the status and the details stay in the log.
 * Knows nothing of Jetty.
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

    /** The reason phrase of {@code status} (Jetty's wording, which clients have seen); the number when none. */
    static String reason(int status) {
        return switch (status) {
            case 100 -> "Continue";
            case 101 -> "Switching Protocols";
            case 102 -> "Processing";
            case 103 -> "Early Hints";
            case 200 -> "OK";
            case 201 -> "Created";
            case 202 -> "Accepted";
            case 203 -> "Non Authoritative Information";
            case 204 -> "No Content";
            case 205 -> "Reset Content";
            case 206 -> "Partial Content";
            case 207 -> "Multi-Status";
            case 300 -> "Multiple Choices";
            case 301 -> "Moved Permanently";
            case 302 -> "Found";
            case 303 -> "See Other";
            case 304 -> "Not Modified";
            case 305 -> "Use Proxy";
            case 307 -> "Temporary Redirect";
            case 308 -> "Permanent Redirect";
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 402 -> "Payment Required";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 406 -> "Not Acceptable";
            case 407 -> "Proxy Authentication Required";
            case 408 -> "Request Timeout";
            case 409 -> "Conflict";
            case 410 -> "Gone";
            case 411 -> "Length Required";
            case 412 -> "Precondition Failed";
            case 413 -> "Payload Too Large";
            case 414 -> "URI Too Long";
            case 415 -> "Unsupported Media Type";
            case 416 -> "Range Not Satisfiable";
            case 417 -> "Expectation Failed";
            case 418 -> "I'm a Teapot";
            case 420 -> "Enhance your Calm";
            case 421 -> "Misdirected Request";
            case 422 -> "Unprocessable Entity";
            case 423 -> "Locked";
            case 424 -> "Failed Dependency";
            case 426 -> "Upgrade Required";
            case 428 -> "Precondition Required";
            case 429 -> "Too Many Requests";
            case 431 -> "Request Header Fields Too Large";
            case 451 -> "Unavailable for Legal Reason";
            case 500 -> "Internal Server Error";
            case 501 -> "Not Implemented";
            case 502 -> "Bad Gateway";
            case 503 -> "Service Unavailable";
            case 504 -> "Gateway Timeout";
            case 505 -> "HTTP Version Not Supported";
            case 507 -> "Insufficient Storage";
            case 508 -> "Loop Detected";
            case 510 -> "Not Extended";
            case 511 -> "Network Authentication Required";
            default -> Integer.toString(status);
        };
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
    static byte[] debugPage(int status, Throwable failure, KilnRequest request, RouteSpec route) {
        try {
            return buildDebugPage(status, failure, request, route);
        } catch (RuntimeException | StackOverflowError broken) {
            LOG.warn("{} {}: the debug page could not be built, the plain page is sent: {}", request.method(),
                    request.rawPath(), broken.toString());
            return page(status, null);
        }
    }

    private static byte[] buildDebugPage(int status, Throwable failure, KilnRequest request, RouteSpec route) {
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
        html.append("<h3>Request</h3><pre>").append(escape(request.describe())).append("</pre>")
                .append("<h3>Stack trace</h3><pre>").append(escape(JsonRpc.stackTrace(failure))).append("</pre>");
        return html.append("</body></html>\n").toString().getBytes(StandardCharsets.UTF_8);
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
