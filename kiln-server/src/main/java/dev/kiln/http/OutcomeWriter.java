package dev.kiln.http;

import dev.kiln.api.Response.Header;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.MimeTypes;
import org.eclipse.jetty.http.PreEncodedHttpField;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes an {@link Outcome} to Jetty's response: the one place a response is written, whatever
 * produced it. A body known in advance goes in one write with its {@code Content-Length}; a stream
 * is counted as it goes; a static file is read whole when small, else copied. Content types and
 * cache headers that repeat are sent as pre-encoded fields. Returns the body bytes sent, for the
 * access log.
 *
 * <p>A write that fails before anything was sent throws, so that the failure's own outcome can
 * take its place ({@link #replace}); once the response is committed a failure can only abort it.
 */
final class OutcomeWriter {

    private static final Logger LOG = LoggerFactory.getLogger(OutcomeWriter.class);
    private static final int SMALL_FILE = 256 * 1024;
    /** Distinct handler content types kept pre-encoded: enough for any real set, bounded against odd ones. */
    private static final int CONTENT_TYPES_KEPT = 64;

    private final HttpField[] mediaTypes;
    private final HttpField staticCache;
    private final Map<String, HttpField> contentTypes = new ConcurrentHashMap<>();

    OutcomeWriter(HttpOptions options) {
        Outcome.MediaType[] types = Outcome.MediaType.values();
        mediaTypes = new HttpField[types.length];
        for (Outcome.MediaType type : types) {
            mediaTypes[type.ordinal()] = new PreEncodedHttpField(HttpHeader.CONTENT_TYPE, type.value);
        }
        staticCache = new PreEncodedHttpField(HttpHeader.CACHE_CONTROL,
                options.staticMaxAgeSeconds() == 0 ? "no-cache" : "public, max-age=" + options.staticMaxAgeSeconds());
    }

    long write(Outcome outcome, Response response, Callback callback) throws IOException {
        response.setStatus(outcome.status());
        HttpFields.Mutable headers = response.getHeaders();
        List<Header> extra = outcome.headers();
        for (int i = 0, n = extra.size(); i < n; i++) {
            headers.add(extra.get(i).name(), extra.get(i).value());
        }
        return switch (outcome) {
            case Outcome.Bytes bytes -> writeBytes(bytes, response, callback);
            case Outcome.Reply reply -> writeReply(reply.response(), response, callback);
            case Outcome.File file -> writeFile(file, response, callback);
        };
    }

    /**
     * Writes a failure's outcome in place of what a failed write began; when the response is
     * committed already, nothing can be: the exchange is aborted.
     */
    long replace(Outcome outcome, Response response, Callback callback) throws IOException {
        if (response.isCommitted()) {
            callback.failed(new IOException("response already committed, cannot send " + outcome.status()));
            return 0;
        }
        response.reset();
        return write(outcome, response, callback);
    }

    private long writeBytes(Outcome.Bytes bytes, Response response, Callback callback) {
        byte[] body = bytes.body();
        HttpFields.Mutable headers = response.getHeaders();
        headers.put(mediaTypes[bytes.type().ordinal()]);
        headers.put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
        return body.length;
    }

    /** A handler's response: bytes in one write with Content-Length, or a stream. */
    private long writeReply(dev.kiln.api.Response answer, Response response, Callback callback) throws IOException {
        HttpFields.Mutable headers = response.getHeaders();
        List<Header> list = answer.headers();
        for (int i = 0, n = list.size(); i < n; i++) {
            Header header = list.get(i);
            if (header.name().equalsIgnoreCase("Content-Type")) {
                headers.put(contentType(header.value()));
            } else {
                headers.add(header.name(), header.value());
            }
        }
        byte[] bytes = answer.bodyBytes();
        if (bytes != null) {
            headers.put(HttpHeader.CONTENT_LENGTH, bytes.length);
            response.write(true, ByteBuffer.wrap(bytes), callback);
            return bytes.length;
        }
        return stream(answer.bodyWriter(), response, callback);
    }

    private static long stream(dev.kiln.api.Response.BodyWriter writer, Response response, Callback callback) throws IOException {
        CountingStream out = new CountingStream(Content.Sink.asOutputStream(response));
        try {
            writer.writeTo(out);
            out.close();
        } catch (IOException | RuntimeException e) {
            if (!response.isCommitted()) {
                throw e;
            }
            LOG.warn("streamed response aborted after {} bytes: {}", out.count, e.toString());
            callback.failed(e);
            return out.count;
        }
        callback.succeeded();
        return out.count;
    }

    private long writeFile(Outcome.File file, Response response, Callback callback) throws IOException {
        StaticFiles.Found found = file.found();
        HttpFields.Mutable headers = response.getHeaders();
        headers.put(HttpHeader.ETAG, found.etag());
        headers.put(HttpHeader.LAST_MODIFIED, StaticFiles.httpDate(found.modified()));
        headers.put(staticCache);
        if (file.notModified()) {
            response.write(true, BufferUtil.EMPTY_BUFFER, callback);
            return 0;
        }
        headers.put(HttpHeader.CONTENT_TYPE, contentTypeOf(found.file()));
        headers.put(HttpHeader.CONTENT_LENGTH, found.size());
        if (file.head()) {
            response.write(true, BufferUtil.EMPTY_BUFFER, callback);
            return 0;
        }
        if (found.size() <= SMALL_FILE) {
            response.write(true, ByteBuffer.wrap(Files.readAllBytes(found.file())), callback);
        } else {
            Content.copy(Content.Source.from(found.file()), response, callback);
        }
        return found.size();
    }

    private HttpField contentType(String value) {
        HttpField field = contentTypes.get(value);
        if (field == null) {
            field = new PreEncodedHttpField(HttpHeader.CONTENT_TYPE, value);
            if (contentTypes.size() < CONTENT_TYPES_KEPT) {
                contentTypes.put(value, field);
            }
        }
        return field;
    }

    /** The media type of a static file by its extension; text is declared UTF-8, as the addons write it. */
    private static String contentTypeOf(Path file) {
        String type = MimeTypes.DEFAULTS.getMimeByExtension(file.getFileName().toString());
        if (type == null) {
            return "application/octet-stream";
        }
        if (type.startsWith("text/") || type.equals("application/javascript") || type.equals("application/json")
                || type.equals("image/svg+xml")) {
            return type.indexOf(';') < 0 ? type + "; charset=utf-8" : type;
        }
        return type;
    }

    private static final class CountingStream extends FilterOutputStream {
        long count;

        CountingStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }
}
