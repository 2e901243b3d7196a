package dev.kiln.api;

/**
 * An HTTP outcome other than success, thrown by a handler and turned into a response in one place.
 * The message is shown to the client; keep secrets out of it.
 */
public class HttpException extends RuntimeException {

    private final int status;
    private final java.time.Duration retryAfter;

    public HttpException(int status, String message) {
        this(status, message, null);
    }

    /** @param retryAfter when the client may try again (sent as {@code Retry-After}); null when it should not */
    public HttpException(int status, String message, java.time.Duration retryAfter) {
        super(message, null, false, false);
        this.status = status;
        this.retryAfter = retryAfter;
    }

    public int status() {
        return status;
    }

    /** When the client may try again, null when nothing says. */
    public java.time.Duration retryAfter() {
        return retryAfter;
    }

    public static final class BadRequest extends HttpException {
        public BadRequest(String message) { super(400, message); }
    }

    public static final class Unauthorized extends HttpException {
        public Unauthorized(String message) { super(401, message); }
    }

    public static final class Forbidden extends HttpException {
        public Forbidden(String message) { super(403, message); }
    }

    public static final class NotFound extends HttpException {
        public NotFound(String message) { super(404, message); }
    }

    /** 429: the client asks for more at once than it is allowed; it may try again after {@code retryAfter}. */
    public static final class TooManyRequests extends HttpException {
        public TooManyRequests(String message, java.time.Duration retryAfter) { super(429, message, retryAfter); }
    }

    /** 503: the server cannot serve this now (its database is down or busy); try again after {@code retryAfter}. */
    public static final class Unavailable extends HttpException {
        public Unavailable(String message, java.time.Duration retryAfter) { super(503, message, retryAfter); }
    }
}
