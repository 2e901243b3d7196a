package dev.kiln.server;

import dev.kiln.config.Config;
import dev.kiln.failure.KilnException;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /metrics} on {@code http_interface:metrics_port}, apart from the application's port so
 * that a proxy in front of Kiln never exposes it: Prometheus's text format, or OpenMetrics when the
 * scraper's {@code Accept} asks for it (the library's own writers and negotiation). A small thread
 * pool of its own, so a scrape is answered even when the application's threads are all busy.
 * Anything but {@code GET}/{@code HEAD /metrics} is a plain-text 404 or 405.
 */
final class MetricsServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(MetricsServer.class);
    private static final int THREADS = 4;

    private final Server server;
    private final int port;

    private MetricsServer(Server server, int port) {
        this.server = server;
        this.port = port;
    }

    /**
     * Serves {@code scrape} on {@code metrics_port}; null when that is 0 (off). Fails the start with
     * one line when the port is taken.
     */
    static MetricsServer start(Config config, Supplier<MetricSnapshots> scrape) {
        if (config.metricsPort() == 0) {
            return null;
        }
        QueuedThreadPool threads = new QueuedThreadPool(THREADS, 1);
        threads.setName("kiln-metrics");
        threads.setDaemon(true);
        Server server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        ServerConnector connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http));
        connector.setHost(config.httpInterface());
        connector.setPort(config.metricsPort());
        server.addConnector(connector);
        server.setHandler(new Scrape(scrape, ExpositionFormats.init()));
        try {
            server.start();
        } catch (Exception e) {
            try {
                server.stop();
            } catch (Exception ignored) {
                // it never served
            }
            throw KilnException.failure("metrics: cannot listen on " + config.httpInterface() + ":" + config.metricsPort()
                    + " (" + (e instanceof IOException ? e.getMessage() : e.toString()) + "); see --metrics-port");
        }
        int port = connector.getLocalPort();
        LOG.info("Metrics on http://{}:{}/metrics", config.httpInterface(), port);
        return new MetricsServer(server, port);
    }

    int port() {
        return port;
    }

    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception e) {
            LOG.debug("Metrics: stopping the endpoint: {}", e.toString());
        }
    }

    /** The one handler: a scrape in the format the client accepts. */
    private static final class Scrape extends Handler.Abstract {

        private final Supplier<MetricSnapshots> scrape;
        private final ExpositionFormats formats;

        Scrape(Supplier<MetricSnapshots> scrape, ExpositionFormats formats) {
            this.scrape = scrape;
            this.formats = formats;
        }

        @Override
        public boolean handle(Request request, Response response, Callback callback) throws IOException {
            if (!"/metrics".equals(Request.getPathInContext(request))) {
                return answer(response, callback, HttpStatus.NOT_FOUND_404, "404 Not Found: the metrics are at /metrics\n");
            }
            String method = request.getMethod();
            if (!"GET".equals(method) && !"HEAD".equals(method)) {
                response.getHeaders().put(HttpHeader.ALLOW, "GET, HEAD");
                return answer(response, callback, HttpStatus.METHOD_NOT_ALLOWED_405, "405 Method Not Allowed\n");
            }
            ExpositionFormatWriter writer = formats.findWriter(request.getHeaders().get(HttpHeader.ACCEPT));
            if (!writer.isAvailable()) {
                writer = formats.getPrometheusTextFormatWriter();      // protobuf asked for: this build has text only
            }
            ByteArrayOutputStream body = new ByteArrayOutputStream(16 * 1024);
            writer.write(body, scrape.get());
            response.setStatus(HttpStatus.OK_200);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, writer.getContentType());
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.size());
            if ("HEAD".equals(method)) {
                callback.succeeded();
            } else {
                response.write(true, ByteBuffer.wrap(body.toByteArray()), callback);
            }
            return true;
        }

        private static boolean answer(Response response, Callback callback, int status, String text) {
            response.setStatus(status);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
            response.write(true, ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), callback);
            return true;
        }
    }
}
