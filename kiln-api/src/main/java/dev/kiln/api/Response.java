package dev.kiln.api;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * What an {@code type=http} handler returns: a status, headers and a body that is either bytes
 * known in advance or a {@link BodyWriter} that streams.
 */
public final class Response {

    /** Streams a body; called once, after the status and headers are sent. */
    @FunctionalInterface
    public interface BodyWriter {
        void writeTo(OutputStream out) throws IOException;
    }

    public record Header(String name, String value) { }

    private int status = 200;
    private final List<Header> headers = new ArrayList<>(4);
    private byte[] body = new byte[0];
    private BodyWriter writer;

    public static Response text(String text) {
        return new Response().contentType("text/plain; charset=utf-8").body(text);
    }

    public static Response html(String html) {
        return new Response().contentType("text/html; charset=utf-8").body(html);
    }

    public static Response json(String json) {
        return new Response().contentType("application/json").body(json);
    }

    public static Response status(int status) {
        return new Response().withStatus(status);
    }

    public static Response redirect(String location) {
        return new Response().withStatus(303).header("Location", location);
    }

    public Response withStatus(int status) {
        if (status < 100 || status > 599) {
            throw new IllegalArgumentException("HTTP status out of range: " + status);
        }
        this.status = status;
        return this;
    }

    public Response header(String name, String value) {
        headers.add(new Header(Objects.requireNonNull(name), Objects.requireNonNull(value)));
        return this;
    }

    public Response contentType(String value) {
        return header("Content-Type", value);
    }

    /** Adds a {@code Set-Cookie} header; {@code attributes} as in RFC 6265, e.g. {@code "Path=/; HttpOnly"}. */
    public Response cookie(String name, String value, String attributes) {
        String cookie = name + "=" + value;
        return header("Set-Cookie", attributes == null || attributes.isEmpty() ? cookie : cookie + "; " + attributes);
    }

    public Response body(String text) {
        return body(text.getBytes(StandardCharsets.UTF_8));
    }

    public Response body(byte[] bytes) {
        this.body = Objects.requireNonNull(bytes);
        this.writer = null;
        return this;
    }

    public Response stream(BodyWriter writer) {
        this.writer = Objects.requireNonNull(writer);
        this.body = null;
        return this;
    }

    public int status() {
        return status;
    }

    public List<Header> headers() {
        return Collections.unmodifiableList(headers);
    }

    /** The body bytes, or {@code null} when the body is streamed. */
    public byte[] bodyBytes() {
        return body;
    }

    /** The streaming writer, or {@code null} when the body is bytes. */
    public BodyWriter bodyWriter() {
        return writer;
    }
}
