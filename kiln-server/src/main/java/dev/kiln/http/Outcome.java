package dev.kiln.http;

import dev.kiln.api.Response;
import dev.kiln.api.Response.Header;
import java.util.ArrayList;
import java.util.List;

/**
 * What serving a request produced, before a byte is written: every route returns one (an addon's
 * result becomes one, a built-in route builds it), every failure is turned into one
 * ({@link Failures}), and only the front door writes it. Knows nothing of Jetty.
 *
 * <p>{@link #headers()} are sent before those of the body's own (a handler's {@link Response}), so
 * a header the handler sets wins where the client keeps the last one (a second {@code Set-Cookie}).
 */
sealed interface Outcome {

    /** The media types of the bodies Kiln writes itself; the writer sends each as one pre-encoded field. */
    enum MediaType {
        HTML("text/html; charset=utf-8"),
        JSON("application/json"),
        XML("text/xml; charset=utf-8"),
        TEXT("text/plain; charset=utf-8");

        final String value;

        MediaType(String value) {
            this.value = value;
        }
    }

    int status();

    List<Header> headers();

    /** This outcome with one more header, sent before the others. */
    Outcome withHeader(String name, String value);

    /** A body known in advance, in one of Kiln's own formats. */
    record Bytes(int status, MediaType type, byte[] body, List<Header> headers) implements Outcome {
        @Override
        public Outcome withHeader(String name, String value) {
            return new Bytes(status, type, body, prepend(name, value, headers));
        }
    }

    /** A handler's response: bytes or a stream. */
    record Reply(Response response, List<Header> headers) implements Outcome {
        @Override
        public int status() {
            return response.status();
        }

        @Override
        public Outcome withHeader(String name, String value) {
            return new Reply(response, prepend(name, value, headers));
        }
    }

    /**
     * A static file: 200 with its body ({@code head}: none), or 304 when the client's copy is current.
     */
    record File(StaticFiles.Found found, boolean notModified, boolean head, List<Header> headers) implements Outcome {
        @Override
        public int status() {
            return notModified ? 304 : 200;
        }

        @Override
        public Outcome withHeader(String name, String value) {
            return new File(found, notModified, head, prepend(name, value, headers));
        }
    }

    static Outcome reply(Response response) {
        return new Reply(response, List.of());
    }

    /** The error page of {@code status}. */
    static Outcome page(int status) {
        return page(status, null);
    }

    /** The error page of {@code status} saying {@code message} (null: the status alone). */
    static Outcome page(int status, String message) {
        return new Bytes(status, MediaType.HTML, ErrorPages.page(status, message), List.of());
    }

    /** 405 with the methods the path answers. */
    static Outcome notAllowed(String allow) {
        return page(405).withHeader("Allow", allow);
    }

    static Outcome json(byte[] body) {
        return json(200, body);
    }

    static Outcome json(int status, byte[] body) {
        return new Bytes(status, MediaType.JSON, body, List.of());
    }

    /**
     * The 415 of a JSON route to a body not sent as JSON. The body is left unread, so the connection
     * closes after the answer and says so: a client that reused it would otherwise send its next
     * request into a connection the server is closing, and get no answer at all.
     */
    static Outcome notJson() {
        return json(415, JsonRpc.notJson()).withHeader("Connection", "close");
    }

    static Outcome xml(byte[] body) {
        return new Bytes(200, MediaType.XML, body, List.of());
    }

    static Outcome text(int status, byte[] body) {
        return new Bytes(status, MediaType.TEXT, body, List.of());
    }

    private static List<Header> prepend(String name, String value, List<Header> headers) {
        List<Header> all = new ArrayList<>(headers.size() + 1);
        all.add(new Header(name, value));
        all.addAll(headers);
        return List.copyOf(all);
    }
}
