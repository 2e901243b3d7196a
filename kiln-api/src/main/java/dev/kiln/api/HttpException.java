package dev.kiln.api;

/**
 * An HTTP outcome other than success, thrown by a handler and turned into a response in one place.
 * The message is shown to the client; keep secrets out of it.
 */
public class HttpException extends RuntimeException {

    private final int status;

    public HttpException(int status, String message) {
        super(message, null, false, false);
        this.status = status;
    }

    public int status() {
        return status;
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
}
