package dev.kiln.os;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.spi.SelectorProvider;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The one listening socket of a Kiln process, kept on fd 0 for the life of the process, of its
 * in-place re-execs and of the worker processes it starts (they inherit fd 0).
 *
 * <p>Where it comes from, in order: fd 0 when {@code KILN_LISTEN_FD=0} says a previous image of this
 * process (or the master) left it there; systemd's fd 3 when {@code LISTEN_FDS=1} and
 * {@code LISTEN_PID} is this pid; otherwise a new socket bound to the configured address. Servers
 * never accept on fd 0 itself: {@link #openChannel()} gives each a duplicate, so
 * closing it (as Jetty does on stop, or by interrupting its acceptor) leaves fd 0 and the kernel's
 * queue of pending connections intact. {@code System.inheritedChannel()} is never used: closing the
 * channel it returns would point fds 0–2 at /dev/null.
 */
public final class ListenSocket {

    /** Set in the environment of re-execs and workers: "the listening socket is on fd 0". */
    public static final String INHERITED_FD_ENV = "KILN_LISTEN_FD";
    private static final int SD_LISTEN_FDS_START = 3;
    private static final int BACKLOG = 2048;

    public enum Origin { BOUND, SYSTEMD, INHERITED }

    private final Origin origin;
    private final InetSocketAddress address;

    private ListenSocket(Origin origin, InetSocketAddress address) {
        this.origin = origin;
        this.address = address;
    }

    /** Takes the inherited or activated socket if there is one, else binds {@code host:port}. */
    public static ListenSocket open(String host, int port, Map<String, String> env) throws IOException {
        long pid = ProcessHandle.current().pid();
        if ("0".equals(env.get(INHERITED_FD_ENV)) && Fds.isListeningSocket(0)) {
            return onFd0(Origin.INHERITED);
        }
        if ("1".equals(env.get("LISTEN_FDS")) && String.valueOf(pid).equals(env.get("LISTEN_PID"))) {
            if (!Fds.isListeningSocket(SD_LISTEN_FDS_START)) {
                throw new IOException("LISTEN_FDS=1 but fd 3 is not a listening socket; check the .socket unit");
            }
            Fds.dup2(SD_LISTEN_FDS_START, 0);
            Fds.close(SD_LISTEN_FDS_START);
            return onFd0(Origin.SYSTEMD);
        }
        return bind(host, port);
    }

    private static ListenSocket bind(String host, int port) throws IOException {
        try (ServerSocketChannel channel = ServerSocketChannel.open()) {
            channel.bind(new InetSocketAddress(host, port), BACKLOG);
            Fds.dup2(fdOf(channel), 0);
        }
        return onFd0(Origin.BOUND);
    }

    private static ListenSocket onFd0(Origin origin) throws IOException {
        // fd 0 crosses exec and ProcessBuilder (dup2 and exec leave it without close-on-exec); the
        // kernel's accept queue lives as long as it does.
        try (ServerSocketChannel probe = wrap(Fds.dup(0))) {
            return new ListenSocket(origin, (InetSocketAddress) probe.getLocalAddress());
        }
    }

    /** A new channel on a duplicate of the listening socket, for one server to accept from and close. */
    public ServerSocketChannel openChannel() throws IOException {
        return wrap(Fds.dup(0));
    }

    public Origin origin() {
        return origin;
    }

    public InetSocketAddress address() {
        return address;
    }

    /**
     * A second listening socket bound to {@code host:port}, as an fd that stays off fd 0:
     * the prefork master keeps the evented worker's socket (gevent_port) this way and hands it over
     * on fd 0 with {@link #onFd0While}.
     */
    public static BoundFd bindFd(String host, int port) throws IOException {
        try (ServerSocketChannel channel = ServerSocketChannel.open()) {
            channel.bind(new InetSocketAddress(host, port), BACKLOG);
            int bound = ((InetSocketAddress) channel.getLocalAddress()).getPort();
            return new BoundFd(Fds.dup(fdOf(channel)), bound);
        }
    }

    /** A listening socket's fd and the port it got (the kernel's choice when asked for port 0). */
    public record BoundFd(int fd, int port) { }

    /**
     * Runs {@code action} (a process start, which inherits fd 0) with the socket {@code fd} on fd 0,
     * then puts the listening socket of this process back. Only the thread that starts processes
     * may call it.
     */
    public static <T> T onFd0While(int fd, Supplier<T> action) {
        int saved = Fds.dup(0);
        try {
            Fds.dup2(fd, 0);
            return action.get();
        } finally {
            Fds.dup2(saved, 0);
            Fds.close(saved);
        }
    }

    /**
     * Points fd 0 at /dev/null: this process no longer holds the listening socket. Once every
     * process sharing it has let go, the kernel closes it and refuses new connections; the last
     * one to let go must have accepted what was queued, or those connections are reset.
     */
    public static void release() {
        release(prepareRelease());
    }

    /**
     * Opens /dev/null for {@link #release(int)} ahead of it, so that the release itself takes
     * microseconds and cannot fail for want of a descriptor.
     */
    public static int prepareRelease() {
        return Fds.openReadOnly("/dev/null");
    }

    /**
     * Makes the kernel complete no new connection on the listening socket (for every process that
     * shares it), keeping those it has queued: a stop for good calls it before taking the queue's
     * last connections, so that none can arrive between its last accept and its release — a
     * connection left in the queue when the socket closes is reset. A client whose handshake was
     * under way retries it and is refused once the socket is gone.
     */
    public static void stopQueueing() {
        Libc.dropAllPackets(0);
    }

    /** {@link #release()} with a /dev/null fd from {@link #prepareRelease()}, which it closes. */
    public static void release(int devNull) {
        Fds.dup2(devNull, 0);
        Fds.close(devNull);
    }

    /**
     * {@link #release(int)}, also pointing {@code duplicate} (a channel of {@link #openChannel()})
     * at /dev/null, so that the socket closes at once; the channel's own close closes that.
     */
    public static void release(int devNull, ServerSocketChannel duplicate) throws IOException {
        Fds.dup2(devNull, fdOf(duplicate));
        release(devNull);
    }

    /** Clears O_NONBLOCK on fd 0 (shared with every duplicate), as the next program expects a plain socket. */
    public static void prepareForExec() {
        int flags = Libc.fcntl(0, Libc.F_GETFL, 0);
        Libc.fcntl(0, Libc.F_SETFL, flags & ~Libc.O_NONBLOCK);
        Libc.fcntl(0, Libc.F_SETFD, 0);
    }

    private static ServerSocketChannel wrap(int fd) throws IOException {
        try {
            return (ServerSocketChannel) Channels.NEW_SERVER.invokeExact(SelectorProvider.provider(),
                    (ProtocolFamily) StandardProtocolFamily.INET, Fds.descriptor(fd), true);
        } catch (Throwable t) {
            Fds.close(fd);
            throw new IOException("cannot wrap fd " + fd + " as a channel (the JVM needs "
                    + "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED, as bin/kiln passes): " + t, t);
        }
    }

    private static int fdOf(ServerSocketChannel channel) throws IOException {
        try {
            return (int) Channels.FD_VAL.invokeExact(channel);
        } catch (Throwable t) {
            throw new IOException("cannot read the socket's fd: " + t, t);
        }
    }

    /**
     * The JDK's channel internals, as method handles: a server channel over an fd it did not open,
     * and the fd of a channel. Looked up once, when first needed.
     */
    private static final class Channels {
        static final MethodHandle NEW_SERVER, FD_VAL;

        static {
            try {
                Class<?> impl = Class.forName("sun.nio.ch.ServerSocketChannelImpl");
                MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(impl, MethodHandles.lookup());
                NEW_SERVER = lookup.findConstructor(impl, MethodType.methodType(void.class, SelectorProvider.class,
                                ProtocolFamily.class, FileDescriptor.class, boolean.class))
                        .asType(MethodType.methodType(ServerSocketChannel.class, SelectorProvider.class,
                                ProtocolFamily.class, FileDescriptor.class, boolean.class));
                Class<?> selCh = Class.forName("sun.nio.ch.SelChImpl");
                FD_VAL = MethodHandles.privateLookupIn(selCh, MethodHandles.lookup())
                        .findVirtual(selCh, "getFDVal", MethodType.methodType(int.class))
                        .asType(MethodType.methodType(int.class, ServerSocketChannel.class));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
