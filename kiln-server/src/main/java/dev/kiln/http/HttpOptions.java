package dev.kiln.http;

import java.util.List;

/**
 * What the HTTP application needs from the configuration; the server maps its {@code Config} here so
 * that {@code http/} does not depend on how options are read.
 *
 * @param debug              {@code --dev=debug}: error pages and JSON-RPC errors show the exception, its
 *                           stack trace, the request and the addon of the route
 * @param proxyMode          {@code --proxy-mode}: the client address is taken from {@code X-Forwarded-For}
 * @param accessLog          one INFO line per request on the {@code dev.kiln.http.access} logger
 * @param maxBodyBytes       largest request body read whole (JSON-RPC, {@code Request.body()}); larger → 413
 * @param staticMaxAgeSeconds {@code Cache-Control: max-age} of static files (Odoo: one week)
 * @param abortable          let the server answer a request in its handler's stead
 *                           ({@link HttpFrontDoor#abort}), for {@code limit_time_cpu}
 * @param refusals           {@code --dev=access}: every refused login and access logged at INFO with its
 *                           reason ({@link dev.kiln.logging.AccessRefusals})
 */
public record HttpOptions(boolean debug, boolean proxyMode, boolean accessLog, int maxBodyBytes, int staticMaxAgeSeconds,
                          boolean abortable, boolean refusals, List<String> websocketOrigins) {

    public static final int DEFAULT_MAX_BODY = 16 * 1024 * 1024;
    public static final int DEFAULT_STATIC_MAX_AGE = 7 * 24 * 3600;

    public HttpOptions {
        if (maxBodyBytes <= 0) {
            throw new IllegalArgumentException("maxBodyBytes must be positive: " + maxBodyBytes);
        }
        if (staticMaxAgeSeconds < 0) {
            throw new IllegalArgumentException("staticMaxAgeSeconds must not be negative: " + staticMaxAgeSeconds);
        }
        websocketOrigins = List.copyOf(websocketOrigins);
    }

    public static HttpOptions defaults() {
        return new HttpOptions(false, false, true, DEFAULT_MAX_BODY, DEFAULT_STATIC_MAX_AGE, false, false, List.of());
    }

    public HttpOptions withDebug(boolean on) {
        return new HttpOptions(on, proxyMode, accessLog, maxBodyBytes, staticMaxAgeSeconds, abortable, refusals, websocketOrigins);
    }

    public HttpOptions withProxyMode(boolean on) {
        return new HttpOptions(debug, on, accessLog, maxBodyBytes, staticMaxAgeSeconds, abortable, refusals, websocketOrigins);
    }

    public HttpOptions withAccessLog(boolean on) {
        return new HttpOptions(debug, proxyMode, on, maxBodyBytes, staticMaxAgeSeconds, abortable, refusals, websocketOrigins);
    }

    public HttpOptions withMaxBodyBytes(int bytes) {
        return new HttpOptions(debug, proxyMode, accessLog, bytes, staticMaxAgeSeconds, abortable, refusals, websocketOrigins);
    }

    public HttpOptions withAbortable(boolean on) {
        return new HttpOptions(debug, proxyMode, accessLog, maxBodyBytes, staticMaxAgeSeconds, on, refusals, websocketOrigins);
    }

    public HttpOptions withRefusals(boolean on) {
        return new HttpOptions(debug, proxyMode, accessLog, maxBodyBytes, staticMaxAgeSeconds, abortable, on, websocketOrigins);
    }

    /** Origins besides the request's own host whose pages may open the bus websocket with the user's cookie. */
    public HttpOptions withWebsocketOrigins(List<String> origins) {
        return new HttpOptions(debug, proxyMode, accessLog, maxBodyBytes, staticMaxAgeSeconds, abortable, refusals, origins);
    }
}
