package dev.kiln.server;

import dev.kiln.metrics.MetricFamily;
import dev.kiln.metrics.MetricFamily.Point;
import dev.kiln.server.WorkerCodec.Malformed;
import dev.kiln.server.WorkerMessage.Hello;
import dev.kiln.server.WorkerMessage.InFlight;
import dev.kiln.server.WorkerMessage.Metrics;
import dev.kiln.server.WorkerMessage.Ready;
import dev.kiln.server.WorkerMessage.Recycle;
import dev.kiln.server.WorkerMessage.State;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WorkerCodecTest {

    private static final List<WorkerMessage> EVERY_KIND = List.of(
            new Hello("00112233445566778899aabbccddeeff"),
            new Ready(8069),
            new Ready(0),
            new State(123_456_789_012L, 3, 104_857_600L, 2_500, "POST /web/dataset/call_kw/ré.sumé"),
            new State(0, 0, -1, 0, ""),
            new Recycle("limit_memory_soft"),
            new InFlight(List.of(new InFlight.Entry(1_500, "GET /hello/wait?seconds=8"), new InFlight.Entry(0, "POST /jsonrpc"))),
            new InFlight(List.of()),
            new Metrics(new MetricFamily("kiln_http_requests", MetricFamily.Type.COUNTER, "HTTP requests", null, List.of(
                    new Point(List.of("route", "/hello", "method", "GET"), 42, 0, new double[0], new long[0])))),
            new Metrics(new MetricFamily("kiln_http_request_duration_seconds", MetricFamily.Type.HISTOGRAM, "", "seconds",
                    List.of(new Point(List.of(), 1.5, 3, new double[] {0.1, 1, Double.POSITIVE_INFINITY}, new long[] {1, 1, 1})))));

    @Test
    void everyKindOfMessageComesBackAsItWasSent() throws Exception {
        for (WorkerMessage message : EVERY_KIND) {
            byte[] frame = WorkerCodec.encode(message);
            assertThat(WorkerCodec.decode(WorkerCodec.readFrame(new ByteArrayInputStream(frame)))).isEqualTo(message);
        }
    }

    @Test
    void aMetricFamilyTooLargeForOneFrameTravelsInPartsThatTogetherHoldEveryPoint() throws Exception {
        List<Point> points = new ArrayList<>();
        for (int i = 0; i < 3_000; i++) {
            points.add(new Point(List.of("route", "/route/number/" + i, "method", "GET"), i, i, new double[] {0.1, 1},
                    new long[] {i, 0}));
        }
        MetricFamily family = new MetricFamily("kiln_big", MetricFamily.Type.HISTOGRAM, "many routes", null, points);

        List<Metrics> parts = WorkerCodec.split(family);

        assertThat(parts).hasSizeGreaterThan(1);
        List<Point> read = new ArrayList<>();
        for (Metrics part : parts) {
            byte[] frame = WorkerCodec.encode(part);
            assertThat(frame.length).isLessThanOrEqualTo(2 + WorkerCodec.MAX_BODY);
            read.addAll(((Metrics) WorkerCodec.decode(WorkerCodec.readFrame(new ByteArrayInputStream(frame)))).family().points());
        }
        assertThat(read).isEqualTo(points);
        assertThatThrownBy(() -> WorkerCodec.encode(new Metrics(family))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("split");
    }

    @Test
    void messagesArrivingOneByteAtATimeAreReadWholeAndInOrder() throws Exception {
        InputStream trickle = new OneByteAtATime(concat(EVERY_KIND));

        List<WorkerMessage> read = new ArrayList<>();
        for (byte[] frame; (frame = WorkerCodec.readFrame(trickle)) != null; ) {
            read.add(WorkerCodec.decode(frame));
        }
        assertThat(read).isEqualTo(EVERY_KIND);
    }

    @Test
    void aStreamEndingInsideAFrameIsAnEndOfFileNotAMessage() throws Exception {
        byte[] frame = WorkerCodec.encode(new Recycle("limit_request"));

        assertThatThrownBy(() -> WorkerCodec.readFrame(new ByteArrayInputStream(frame, 0, 1))).isInstanceOf(EOFException.class);
        assertThatThrownBy(() -> WorkerCodec.readFrame(new OneByteAtATime(Arrays.copyOf(frame, frame.length - 1))))
                .isInstanceOf(EOFException.class);
        assertThat(WorkerCodec.readFrame(new ByteArrayInputStream(new byte[0]))).as("an end between frames").isNull();
    }

    @Test
    void aRequestPathLongerThanAFrameCanHoldIsCutNotRefused() throws Exception {
        String path = "GET /" + "€".repeat(40_000);

        byte[] frame = WorkerCodec.encode(new State(1, 1, 1, 1, path));

        assertThat(frame.length).isLessThan(65_535);
        State state = (State) WorkerCodec.decode(WorkerCodec.readFrame(new ByteArrayInputStream(frame)));
        assertThat(state.oldest()).hasSize(WorkerCodec.MAX_STRING_CHARS).isEqualTo(path.substring(0, WorkerCodec.MAX_STRING_CHARS));
    }

    @Test
    void framesThatHoldNoKnownMessageAreRefusedInAFewWords() {
        byte[] ready = body(new Ready(8069));
        byte[] state = body(new State(1, 2, 3, 4, "GET /x"));

        assertMalformed(new byte[0], "a frame of 0 bytes");
        assertMalformed(new byte[] {1}, "a frame of 1 bytes");
        assertMalformed(with(ready, 0, 2), "version 2, this master reads version 1");
        assertMalformed(with(ready, 1, 9), "unknown type 9");
        assertMalformed(Arrays.copyOf(ready, ready.length - 1), "cut short");
        assertMalformed(Arrays.copyOf(ready, ready.length + 3), "3 bytes after a Ready message");
        assertMalformed(Arrays.copyOf(state, state.length - 2), "cut short");
        assertMalformed(with(state, state.length - 1, 0xff), "a string that is not UTF-8");
        assertMalformed(ByteBuffer.allocate(6).put((byte) 1).put((byte) 2).putInt(70_000).array(), "port 70000");
        assertMalformed(ByteBuffer.allocate(4).put((byte) 1).put((byte) 4).putShort((short) 0).array(),
                "a recycle without its limit");
    }

    @Test
    void aBadFrameDoesNotDesynchronizeTheFramesAfterIt() throws Exception {
        byte[] garbage = {0, 5, 7, 7, 7, 7, 7};           // a whole frame of the wrong version
        ByteArrayOutputStream stream = new ByteArrayOutputStream();
        stream.write(garbage);
        stream.write(WorkerCodec.encode(new Ready(8069)));
        InputStream in = new OneByteAtATime(stream.toByteArray());

        assertThatThrownBy(() -> WorkerCodec.decode(WorkerCodec.readFrame(in))).isInstanceOf(Malformed.class);
        assertThat(WorkerCodec.decode(WorkerCodec.readFrame(in))).isEqualTo(new Ready(8069));
        assertThat(WorkerCodec.readFrame(in)).isNull();
    }

    private static void assertMalformed(byte[] body, String why) {
        assertThatThrownBy(() -> WorkerCodec.decode(body)).isInstanceOf(Malformed.class).hasMessageContaining(why);
    }

    /** The frame's body: what {@link WorkerCodec#readFrame} returns for it. */
    private static byte[] body(WorkerMessage message) {
        byte[] frame = WorkerCodec.encode(message);
        return Arrays.copyOfRange(frame, 2, frame.length);
    }

    private static byte[] with(byte[] bytes, int index, int value) {
        byte[] copy = bytes.clone();
        copy[index] = (byte) value;
        return copy;
    }

    private static byte[] concat(List<WorkerMessage> messages) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (WorkerMessage message : messages) {
            out.write(WorkerCodec.encode(message));
        }
        return out.toByteArray();
    }

    /** A stream that gives at most one byte per read, as a socket may under load. */
    private static final class OneByteAtATime extends InputStream {
        private final ByteArrayInputStream bytes;

        OneByteAtATime(byte[] bytes) {
            this.bytes = new ByteArrayInputStream(bytes);
        }

        @Override
        public int read() {
            return bytes.read();
        }

        @Override
        public int read(byte[] buffer, int offset, int length) {
            return length == 0 ? 0 : bytes.read(buffer, offset, 1);
        }
    }
}
