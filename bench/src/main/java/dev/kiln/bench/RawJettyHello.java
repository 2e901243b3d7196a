package dev.kiln.bench;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.VirtualThreadPool;

/**
 * The peer that `make bench` holds Kiln against: the least a Jetty 12.1 server can do for
 * {@code GET /hello}. A core {@link Handler.Abstract} answers every request {@code Hello, world}
 * (text/plain, with Content-Length) on Jetty's {@link VirtualThreadPool}, the pool measured at
 * ~130k req/s with wrk on this kind of machine. Kiln runs the same Jetty on virtual threads, so the ratio between the
 * two is the cost of Kiln's own request path (routing, dispatch, access log).
 *
 * <p>Usage: {@code java -cp ... dev.kiln.bench.RawJettyHello PORT}; listens on 127.0.0.1 only and
 * stops on SIGTERM/SIGINT through the JVM's shutdown hook.
 */
public final class RawJettyHello {
    private static final ByteBuffer BODY =
            ByteBuffer.wrap("Hello, world".getBytes(StandardCharsets.US_ASCII)).asReadOnlyBuffer();

    private RawJettyHello() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: RawJettyHello PORT");
            System.exit(2);
        }
        serve(Integer.parseInt(args[0]), new Hello(), "raw jetty hello");
    }

    /**
     * Serves {@code handler} on 127.0.0.1:{@code port} with Jetty on virtual threads until the JVM
     * stops. Kiln sends no Server header either: the peers answer with the same headers as Kiln.
     */
    static void serve(int port, Handler handler, String name) throws Exception {
        Server server = new Server(new VirtualThreadPool());
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
        connector.setHost("127.0.0.1");
        connector.setPort(port);
        server.addConnector(connector);
        server.setHandler(handler);
        server.setStopAtShutdown(true);
        server.start();
        System.out.println(name + " on 127.0.0.1:" + connector.getLocalPort());
        server.join();
    }

    /**
     * Answers every request with the same 12 bytes; nothing is read, routed or logged. Blocking
     * invocation type (plain {@code Handler.Abstract}), as Kiln's handler must be: addon code may block.
     */
    static final class Hello extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            response.setStatus(200);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, BODY.remaining());
            response.write(true, BODY.slice(), callback);
            return true;
        }
    }
}
