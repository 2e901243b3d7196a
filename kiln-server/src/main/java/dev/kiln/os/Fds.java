package dev.kiln.os;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;

/**
 * The descriptor plumbing of the listening socket (dup, dup2, close, open, and whether a socket
 * listens) through native methods the JDK already has: those behind {@code System.inheritedChannel()}
 * ({@code sun.nio.ch.InheritedChannel}) and the socket options of {@code sun.nio.ch.Net}, reached
 * through the {@code --add-opens=java.base/sun.nio.ch} that {@code bin/kiln} passes for
 * {@link ListenSocket} anyway.
 *
 * <p>Why not {@link Libc}: every server and worker start makes these calls, and a JNI method is
 * bound in microseconds, where the first call of each foreign-function downcall generates its stub
 * (tens of milliseconds before the JIT, and work for the JIT while the process starts). {@link Libc}
 * keeps what the JDK has no native method for.
 *
 * <p>The duplicates are not close-on-exec: the JDK closes every descriptor above 2 in the processes
 * it starts, and an in-place restart marks them all close-on-exec before its exec
 * ({@code Phoenix}).
 */
public final class Fds {

    private static final int SOL_SOCKET = 1, SO_ACCEPTCONN = 30;
    /** sun.nio.ch.InheritedChannel's own open flag for O_RDONLY. */
    private static final int O_RDONLY = 0;

    private static final MethodHandle DUP, DUP2, CLOSE, OPEN, GET_INT_OPTION, NEW_FD;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            Class<?> inherited = Class.forName("sun.nio.ch.InheritedChannel");
            MethodHandles.Lookup natives = MethodHandles.privateLookupIn(inherited, lookup);
            DUP = natives.findStatic(inherited, "dup", MethodType.methodType(int.class, int.class));
            DUP2 = natives.findStatic(inherited, "dup2", MethodType.methodType(void.class, int.class, int.class));
            CLOSE = natives.findStatic(inherited, "close0", MethodType.methodType(void.class, int.class));
            OPEN = natives.findStatic(inherited, "open0", MethodType.methodType(int.class, String.class, int.class));
            Class<?> net = Class.forName("sun.nio.ch.Net");
            GET_INT_OPTION = MethodHandles.privateLookupIn(net, lookup).findStatic(net, "getIntOption0",
                    MethodType.methodType(int.class, FileDescriptor.class, boolean.class, int.class, int.class));
            Class<?> ioUtil = Class.forName("sun.nio.ch.IOUtil");
            NEW_FD = MethodHandles.privateLookupIn(ioUtil, lookup).findStatic(ioUtil, "newFD",
                    MethodType.methodType(FileDescriptor.class, int.class));
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new ExceptionInInitializerError(new IOException("the JDK's descriptor natives are out of reach (the JVM "
                    + "needs --add-opens=java.base/sun.nio.ch=ALL-UNNAMED, as bin/kiln passes): " + e, e));
        }
    }

    private Fds() { }

    /** A duplicate of {@code fd} numbered 3 or above (never one of the standard streams). */
    public static int dup(int fd) {
        List<Integer> low = new ArrayList<>(3);
        try {
            int copy = (int) DUP.invokeExact(fd);
            while (copy < 3) {                      // a standard stream was closed: keep it free
                low.add(copy);
                copy = (int) DUP.invokeExact(fd);
            }
            return copy;
        } catch (Throwable t) {
            throw new OsException("dup(" + fd + ")", t);
        } finally {
            low.forEach(Fds::close);
        }
    }

    public static void dup2(int from, int to) {
        try {
            DUP2.invokeExact(from, to);
        } catch (Throwable t) {
            throw new OsException("dup2(" + from + ", " + to + ")", t);
        }
    }

    public static void close(int fd) {
        try {
            CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw new OsException("close(" + fd + ")", t);
        }
    }

    /** Opens {@code path} for reading; returns the fd. */
    public static int openReadOnly(String path) {
        try {
            return (int) OPEN.invokeExact(path, O_RDONLY);
        } catch (Throwable t) {
            throw new OsException("open(" + path + ")", t);
        }
    }

    /** True when {@code fd} is a socket in the listening state (SO_ACCEPTCONN). */
    public static boolean isListeningSocket(int fd) {
        try {
            return (int) GET_INT_OPTION.invokeExact(descriptor(fd), false, SOL_SOCKET, SO_ACCEPTCONN) != 0;
        } catch (Throwable t) {
            return false;                           // not a socket, or not open
        }
    }

    /** A FileDescriptor object for {@code fd}, which it does not own. */
    static FileDescriptor descriptor(int fd) {
        try {
            return (FileDescriptor) NEW_FD.invokeExact(fd);
        } catch (Throwable t) {
            throw new OsException("newFD(" + fd + ")", t);
        }
    }
}
