package dev.kiln.server;

import dev.kiln.metrics.MetricFamily;
import dev.kiln.metrics.MetricFamily.Point;
import dev.kiln.server.WorkerMessage.Hello;
import dev.kiln.server.WorkerMessage.InFlight;
import dev.kiln.server.WorkerMessage.Metrics;
import dev.kiln.server.WorkerMessage.Ready;
import dev.kiln.server.WorkerMessage.Recycle;
import dev.kiln.server.WorkerMessage.State;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.BufferOverflowException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The one place where {@link WorkerMessage}s become bytes and back. A frame is
 * <pre>
 *   length  u16    the bytes that follow: 2 to 65,535
 *   version u8     {@value #VERSION}
 *   type    u8     1 hello, 2 ready, 3 state, 4 recycle, 5 metrics, 6 in flight
 *   payload        per type, big-endian: i32 and i64 numbers, f64 doubles; strings as u16 length + UTF-8
 *     hello   token:str
 *     ready   port:i32
 *     state   served:i64 inFlight:i32 rss:i64 oldestMillis:i64 oldest:str
 *     recycle limit:str
 *     metrics name:str type:u8 help:str unit:str ("" for none) points:u16, each
 *               labels:u8 (name:str value:str)*labels value:f64 count:i64 buckets:u8 (bound:f64 count:i64)*buckets
 *     in flight  count:u8, each ageMillis:i64 request:str (cut to 256 characters)
 * </pre>
 * The length comes first and is the only thing the reader trusts: a frame whose version, type or
 * payload is wrong is rejected whole ({@link Malformed}) and the next frame is read from where the
 * length said, so one bad message never desynchronizes the stream. The version is there because a
 * reload starts workers from the jar now on disk, which may be newer than the master's: a master
 * drops what it cannot read instead of misreading it. A later kind of message is a new type; an
 * older master drops it, one warning each. A metric family too large for one frame is sent as
 * several, each with a part of its points ({@link #split}): the master takes each point as it comes.
 *
 * <p>Strings are cut to {@value #MAX_STRING_CHARS} characters when encoded (a request's path in a
 * state report can be as long as a client cares to send), so a frame always fits its length field.
 */
final class WorkerCodec {

    static final int VERSION = 1;
    private static final int HELLO = 1, READY = 2, STATE = 3, RECYCLE = 4, METRICS = 5, IN_FLIGHT = 6;
    /** A request line in an in-flight report is cut to this: 32 of them stay far below a frame. */
    private static final int IN_FLIGHT_CHARS = 256;
    /** The largest body a frame's u16 length can announce. */
    static final int MAX_BODY = 65_535;
    private static final MetricFamily.Type[] TYPES = MetricFamily.Type.values();
    /** 1,024 UTF-16 units are at most 3,072 bytes of UTF-8: a state report stays far below 65,535. */
    static final int MAX_STRING_CHARS = 1024;
    private static final int HEADER = 2;

    /** A frame that was read whole but does not hold a message this master knows. */
    static final class Malformed extends Exception {
        Malformed(String message) {
            super(message, null, false, false);       // one line in a log, never a stack
        }
    }

    private WorkerCodec() { }

    /** The frame of {@code message}, length field included, ready to be written in one call. */
    static byte[] encode(WorkerMessage message) {
        // the numbers of the longest message, then one string of up to 3 bytes per UTF-16 unit
        ByteBuffer body = ByteBuffer.allocate(switch (message) {
            case Metrics(MetricFamily family) -> Math.min(MAX_BODY, 2 + sizeBound(family));
            case InFlight inFlight -> 3 + inFlight.entries().size() * (10 + 3 * IN_FLIGHT_CHARS);
            default -> 64 + 3 * MAX_STRING_CHARS;
        });
        body.put((byte) VERSION);
        switch (message) {
            case Hello hello -> {
                body.put((byte) HELLO);
                putString(body, hello.token());
            }
            case Ready ready -> body.put((byte) READY).putInt(ready.port());
            case State state -> {
                body.put((byte) STATE).putLong(state.served()).putInt(state.inFlight()).putLong(state.rss())
                        .putLong(state.oldestMillis());
                putString(body, state.oldest());
            }
            case Recycle recycle -> {
                body.put((byte) RECYCLE);
                putString(body, recycle.limit());
            }
            case InFlight inFlight -> {
                body.put((byte) IN_FLIGHT).put((byte) inFlight.entries().size());
                for (InFlight.Entry entry : inFlight.entries()) {
                    body.putLong(entry.ageMillis());
                    String request = entry.request();
                    putString(body, request.length() <= IN_FLIGHT_CHARS ? request : request.substring(0, IN_FLIGHT_CHARS));
                }
            }
            case Metrics metrics -> {
                try {
                    putFamily(body.put((byte) METRICS), metrics.family());
                } catch (BufferOverflowException e) {
                    throw new IllegalArgumentException("metric family " + metrics.family().name()
                            + " does not fit one frame: send split(family)");
                }
            }
        }
        body.flip();
        ByteBuffer frame = ByteBuffer.allocate(2 + body.remaining());
        frame.putShort((short) body.remaining()).put(body);
        return frame.array();
    }

    /**
     * The next frame's body (version, type, payload) from {@code in}, however the bytes arrive;
     * null when the stream ends between frames. A stream that ends inside a frame throws
     * {@link EOFException}: the writer died mid-message.
     */
    static byte[] readFrame(InputStream in) throws IOException {
        int high = in.read();
        if (high < 0) {
            return null;
        }
        int low = in.read();
        if (low < 0) {
            throw new EOFException("the stream ended inside a frame's length");
        }
        int length = high << 8 | low;
        byte[] body = in.readNBytes(length);
        if (body.length < length) {
            throw new EOFException("the stream ended " + body.length + " bytes into a frame of " + length);
        }
        return body;
    }

    /** The message in a frame's body, or {@link Malformed} saying in a few words what is wrong with it. */
    static WorkerMessage decode(byte[] body) throws Malformed {
        ByteBuffer in = ByteBuffer.wrap(body);
        try {
            if (body.length < HEADER) {
                throw new Malformed("a frame of " + body.length + " bytes");
            }
            int version = Byte.toUnsignedInt(in.get());
            if (version != VERSION) {
                throw new Malformed("version " + version + ", this master reads version " + VERSION);
            }
            int type = Byte.toUnsignedInt(in.get());
            WorkerMessage message = switch (type) {
                case HELLO -> new Hello(getString(in));
                case READY -> new Ready(in.getInt());
                case STATE -> new State(in.getLong(), in.getInt(), in.getLong(), in.getLong(), getString(in));
                case RECYCLE -> new Recycle(getString(in));
                case METRICS -> new Metrics(getFamily(in));
                case IN_FLIGHT -> {
                    int count = Byte.toUnsignedInt(in.get());
                    List<InFlight.Entry> entries = new ArrayList<>(count);
                    for (int i = 0; i < count; i++) {
                        entries.add(new InFlight.Entry(in.getLong(), getString(in)));
                    }
                    yield new InFlight(entries);
                }
                default -> throw new Malformed("unknown type " + type);
            };
            if (in.hasRemaining()) {
                throw new Malformed(in.remaining() + " bytes after a " + message.getClass().getSimpleName() + " message");
            }
            return message;
        } catch (BufferUnderflowException e) {
            throw new Malformed("a frame of type " + Byte.toUnsignedInt(body[1]) + " cut short at " + body.length + " bytes");
        } catch (IllegalArgumentException e) {
            throw new Malformed(e.getMessage());
        }
    }

    /**
     * {@code family} as messages that each fit a frame: itself, or its points shared among several
     * copies. Throws {@link IllegalArgumentException} for a point larger than a frame on its own.
     */
    static List<Metrics> split(MetricFamily family) {
        int head = headBound(family);
        List<Metrics> parts = new ArrayList<>();
        List<Point> part = new ArrayList<>();
        int size = head;
        for (Point point : family.points()) {
            int bytes = sizeBound(point);
            if (head + bytes > MAX_BODY) {
                throw new IllegalArgumentException("a point of " + family.name() + " needs " + bytes + " bytes");
            }
            if (size + bytes > MAX_BODY || part.size() == 65_535) {
                parts.add(new Metrics(family.withPoints(part)));
                part = new ArrayList<>();
                size = head;
            }
            part.add(point);
            size += bytes;
        }
        if (!part.isEmpty() || parts.isEmpty()) {
            parts.add(new Metrics(family.withPoints(part)));
        }
        return parts;
    }

    /** At most how many bytes the body of {@code family}'s message takes, version and type included. */
    private static int sizeBound(MetricFamily family) {
        int bytes = headBound(family);
        for (Point point : family.points()) {
            bytes += sizeBound(point);
        }
        return bytes;
    }

    private static int headBound(MetricFamily family) {
        return 2 + utf8Bound(family.name()) + 1 + utf8Bound(family.help()) + utf8Bound(family.unit()) + 2;
    }

    private static int sizeBound(Point point) {
        int bytes = 1 + 8 + 8 + 1 + 16 * point.bounds().length;
        for (String label : point.labels()) {
            bytes += utf8Bound(label);
        }
        return bytes;
    }

    /** At most how many bytes {@link #putString} writes for {@code value}. */
    private static int utf8Bound(String value) {
        return 2 + 3 * Math.min(value == null ? 0 : value.length(), MAX_STRING_CHARS);
    }

    private static void putFamily(ByteBuffer out, MetricFamily family) {
        putString(out, family.name());
        out.put((byte) family.type().ordinal());
        putString(out, family.help());
        putString(out, family.unit() == null ? "" : family.unit());
        out.putShort((short) family.points().size());
        for (Point point : family.points()) {
            if (point.labels().size() / 2 > 255 || point.bounds().length > 255) {
                throw new IllegalArgumentException("a point of " + family.name() + " with " + point.labels().size() / 2
                        + " labels and " + point.bounds().length + " buckets");
            }
            out.put((byte) (point.labels().size() / 2));
            point.labels().forEach(label -> putString(out, label));
            out.putDouble(point.value()).putLong(point.count()).put((byte) point.bounds().length);
            for (int i = 0; i < point.bounds().length; i++) {
                out.putDouble(point.bounds()[i]).putLong(point.bucketCounts()[i]);
            }
        }
    }

    private static MetricFamily getFamily(ByteBuffer in) throws Malformed {
        String name = getString(in);
        int type = Byte.toUnsignedInt(in.get());
        if (type >= TYPES.length) {
            throw new Malformed("metric family " + name + " of unknown type " + type);
        }
        String help = getString(in);
        String unit = getString(in);
        int count = Short.toUnsignedInt(in.getShort());
        List<Point> points = new ArrayList<>(Math.min(count, 1024));
        for (int i = 0; i < count; i++) {
            int labels = Byte.toUnsignedInt(in.get());
            List<String> strings = new ArrayList<>(2 * labels);
            for (int j = 0; j < 2 * labels; j++) {
                strings.add(getString(in));
            }
            double value = in.getDouble();
            long total = in.getLong();
            int buckets = Byte.toUnsignedInt(in.get());
            double[] bounds = new double[buckets];
            long[] counts = new long[buckets];
            for (int j = 0; j < buckets; j++) {
                bounds[j] = in.getDouble();
                counts[j] = in.getLong();
            }
            points.add(new Point(strings, value, total, bounds, counts));
        }
        return new MetricFamily(name, TYPES[type], help, unit.isEmpty() ? null : unit, points);
    }

    private static void putString(ByteBuffer out, String value) {
        String text = value == null ? "" : value;
        String cut = text.length() <= MAX_STRING_CHARS ? text : text.substring(0, MAX_STRING_CHARS);
        byte[] utf8 = cut.getBytes(StandardCharsets.UTF_8);
        out.putShort((short) utf8.length).put(utf8);
    }

    private static String getString(ByteBuffer in) throws Malformed {
        int length = Short.toUnsignedInt(in.getShort());
        if (length > in.remaining()) {
            throw new BufferUnderflowException();
        }
        ByteBuffer utf8 = in.slice(in.position(), length);
        in.position(in.position() + length);
        try {
            CharBuffer text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(utf8);
            return text.toString();
        } catch (CharacterCodingException e) {
            throw new Malformed("a string that is not UTF-8");
        }
    }
}
