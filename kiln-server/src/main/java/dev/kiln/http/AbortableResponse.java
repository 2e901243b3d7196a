package dev.kiln.http;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.PreEncodedHttpField;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The response of a request the server may abort from another thread (a limit's watchdog): exactly
 * one of the request's handler and the server writes it. The handler claims it by its first use
 * (status, headers, a write, a reset, or asking whether it is committed); the server claims it in
 * {@link #claimForServer}. The loser never touches it: the server answers nothing once the handler
 * began answering, and every use by the handler after the server answered throws {@link Answered},
 * which {@link HttpFrontDoor} drops (so a database route's transaction, which claims before its
 * commit, rolls back).
 *
 * <p>How to break it: let the handler's path reach the wrapped response, or complete the request's
 * callback before using this wrapper — two threads could then write one response.
 */
public final class AbortableResponse extends Response.Wrapper {

    private static final int OPEN = 0;
    private static final int HANDLER = 1;
    private static final int SERVER = 2;
    private static final HttpField TEXT = new PreEncodedHttpField(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
    private static final HttpField CLOSE = new PreEncodedHttpField(HttpHeader.CONNECTION, "close");

    private final Callback callback;
    private final Thread thread;
    private final AtomicInteger owner = new AtomicInteger(OPEN);
    /** Guarded by {@code this}: the handler returned, and its thread may already serve another request. */
    private boolean finished;

    AbortableResponse(Request request, Response response, Callback callback, Thread thread) {
        super(request, response);
        this.callback = callback;
        this.thread = thread;
    }

    /** Thrown to the handler when it uses the response after the server answered it. */
    static final class Answered extends RuntimeException {
        Answered() {
            super("the server answered this request already", null, false, false);
        }
    }

    /** Claims the response for the handler; throws {@link Answered} when the server answered it. */
    void claim() {
        if (owner.get() != HANDLER && !owner.compareAndSet(OPEN, HANDLER)) {
            throw new Answered();
        }
    }

    boolean answeredByServer() {
        return owner.get() == SERVER;
    }

    /** Claims the response for the server: false when the handler began answering (or returned). */
    boolean claimForServer() {
        return owner.compareAndSet(OPEN, SERVER);
    }

    /**
     * The server's answer, after {@link #claimForServer}: {@code status} with {@code body} as
     * plain text and {@code Connection: close} (the worker is going); then the handler's thread is
     * interrupted, unless the handler returned meanwhile.
     */
    void answer(int status, byte[] body) {
        if (prepare(status, body.length)) {
            getWrapped().write(true, ByteBuffer.wrap(body), callback);
        }
        synchronized (this) {
            if (!finished) {
                thread.interrupt();
            }
        }
    }

    /** Status and headers of the server's answer; false (the exchange aborted) when Jetty refuses them. */
    private boolean prepare(int status, int length) {
        Response response = getWrapped();
        try {
            response.reset();
            response.setStatus(status);
            HttpFields.Mutable headers = response.getHeaders();
            headers.put(TEXT);
            headers.put(HttpHeader.CONTENT_LENGTH, length);
            headers.put(CLOSE);
            return true;
        } catch (RuntimeException e) {
            // the exchange ended meanwhile (the client went): failing the callback aborts the connection
            callback.failed(e);
            return false;
        }
    }

    /**
     * The handler returned (on its own thread): the server may no longer answer, no interrupt reaches
     * the thread from now on, and one already sent is cleared — the pool reuses the thread, and an
     * interrupted thread closes the next NIO channel it touches.
     */
    void finish() {
        owner.compareAndSet(OPEN, HANDLER);
        synchronized (this) {
            finished = true;
        }
        Thread.interrupted();
    }

    @Override
    public void setStatus(int code) {
        claim();
        super.setStatus(code);
    }

    @Override
    public HttpFields.Mutable getHeaders() {
        claim();
        return super.getHeaders();
    }

    @Override
    public void setTrailersSupplier(Supplier<HttpFields> trailers) {
        claim();
        super.setTrailersSupplier(trailers);
    }

    @Override
    public boolean isCommitted() {
        claim();
        return super.isCommitted();
    }

    @Override
    public void reset() {
        claim();
        super.reset();
    }

    @Override
    public CompletableFuture<Void> writeInterim(int status, HttpFields headers) {
        claim();
        return super.writeInterim(status, headers);
    }

    @Override
    public void write(boolean last, ByteBuffer content, Callback writeCallback) {
        claim();
        super.write(last, content, writeCallback);
    }
}
