package dev.kiln.os;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
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
 * never accept on fd 0 itself: {@link #openChannel()} gives each a close-on-exec duplicate, so
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
        int pid = Libc.getpid();
        if ("0".equals(env.get(INHERITED_FD_ENV)) && Libc.isListeningSocket(0)) {
            return onFd0(Origin.INHERITED);
        }
        if ("1".equals(env.get("LISTEN_FDS")) && String.valueOf(pid).equals(env.get("LISTEN_PID"))) {
            if (!Libc.isListeningSocket(SD_LISTEN_FDS_START)) {
                throw new IOException("LISTEN_FDS=1 but fd 3 is not a listening socket; check the .socket unit");
            }
            Libc.dup2(SD_LISTEN_FDS_START, 0);
            Libc.close(SD_LISTEN_FDS_START);
            return onFd0(Origin.SYSTEMD);
        }
        return bind(host, port);
    }

    private static ListenSocket bind(String host, int port) throws IOException {
        try (ServerSocketChannel channel = ServerSocketChannel.open()) {
            channel.bind(new InetSocketAddress(host, port), BACKLOG);
            Libc.dup2(fdOf(channel), 0);
        }
        return onFd0(Origin.BOUND);
    }

    private static ListenSocket onFd0(Origin origin) throws IOException {
        // fd 0 must cross exec and ProcessBuilder; the kernel's accept queue lives as long as it does.
        Libc.fcntl(0, Libc.F_SETFD, 0);
        try (ServerSocketChannel probe = wrap(Libc.fcntl(0, Libc.F_DUPFD_CLOEXEC, 3))) {
            return new ListenSocket(origin, (InetSocketAddress) probe.getLocalAddress());
        }
    }

    /** A new close-on-exec channel on the listening socket, for one server to accept from and close. */
    public ServerSocketChannel openChannel() throws IOException {
        return wrap(Libc.fcntl(0, Libc.F_DUPFD_CLOEXEC, 3));
    }

    public Origin origin() {
        return origin;
    }

    public InetSocketAddress address() {
        return address;
    }

    /**
     * A second listening socket bound to {@code host:port}, as a close-on-exec fd that stays off fd 0:
     * the prefork master keeps the evented worker's socket (gevent_port) this way and hands it over
     * on fd 0 with {@link #onFd0While}.
     */
    public static BoundFd bindFd(String host, int port) throws IOException {
        try (ServerSocketChannel channel = ServerSocketChannel.open()) {
            channel.bind(new InetSocketAddress(host, port), BACKLOG);
            int bound = ((InetSocketAddress) channel.getLocalAddress()).getPort();
            return new BoundFd(Libc.fcntl(fdOf(channel), Libc.F_DUPFD_CLOEXEC, 3), bound);
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
        int saved = Libc.fcntl(0, Libc.F_DUPFD_CLOEXEC, 3);
        try {
            Libc.dup2(fd, 0);
            return action.get();
        } finally {
            Libc.dup2(saved, 0);
            Libc.close(saved);
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
     * Opens /dev/null for {@link #release(int)} and links the native calls it makes (the first call
     * of each costs milliseconds), so that the release itself takes microseconds.
     */
    public static int prepareRelease() {
        int devNull = Libc.openReadOnly("/dev/null");
        Libc.dup2(devNull, devNull);
        Libc.close(Libc.fcntl(devNull, Libc.F_DUPFD_CLOEXEC, 3));
        return devNull;
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
        Libc.dup2(devNull, 0);
        Libc.close(devNull);
    }

    /**
     * {@link #release(int)}, also pointing {@code duplicate} (a channel of {@link #openChannel()})
     * at /dev/null, so that the socket closes at once; the channel's own close closes that.
     */
    public static void release(int devNull, ServerSocketChannel duplicate) throws IOException {
        Libc.dup2(devNull, fdOf(duplicate));
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
            Method newFd = Class.forName("sun.nio.ch.IOUtil").getDeclaredMethod("newFD", int.class);
            newFd.setAccessible(true);
            Constructor<?> constructor = Class.forName("sun.nio.ch.ServerSocketChannelImpl").getDeclaredConstructor(
                    SelectorProvider.class, ProtocolFamily.class, FileDescriptor.class, boolean.class);
            constructor.setAccessible(true);
            return (ServerSocketChannel) constructor.newInstance(
                    SelectorProvider.provider(), StandardProtocolFamily.INET, newFd.invoke(null, fd), true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            Libc.close(fd);
            throw new IOException("cannot wrap fd " + fd + " as a channel (the JVM needs "
                    + "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED, as bin/kiln passes): " + e, e);
        }
    }

    private static int fdOf(ServerSocketChannel channel) throws IOException {
        try {
            Method getFdVal = Class.forName("sun.nio.ch.SelChImpl").getDeclaredMethod("getFDVal");
            getFdVal.setAccessible(true);
            return (int) getFdVal.invoke(channel);
        } catch (ReflectiveOperationException e) {
            throw new IOException("cannot read the socket's fd: " + e, e);
        }
    }
}
