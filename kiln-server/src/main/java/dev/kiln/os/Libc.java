package dev.kiln.os;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The few libc calls Kiln needs that the JDK does not offer: descriptor flags and a socket filter
 * for the shared listening socket (its dup, dup2 and close are {@link Fds}'), {@code execve} for in-place restarts, the signal masks and
 * dispositions that carry signals across it, and a datagram to a Unix socket (systemd's
 * {@code NOTIFY_SOCKET}: the JDK's datagram channels speak only IP). Every call returns its result or throws
 * {@link OsException} carrying errno; nothing here is used on the request path.
 */
public final class Libc {

    public static final int F_SETFD = 2, F_GETFL = 3, F_SETFL = 4;
    public static final int FD_CLOEXEC = 1, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
    private static final int AF_UNIX = 1, SOCK_DGRAM = 2, SUN_PATH = 108;
    private static final int SOL_SOCKET = 1, SO_ATTACH_FILTER = 26, SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2;
    private static final MemorySegment SIG_IGN = MemorySegment.ofAddress(1);
    /** glibc's sigset_t is 1024 bits. */
    private static final int SIGSET_BYTES = 128;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    // One holder class per function: a handle is linked (a generated stub, tens of milliseconds
    // before the JIT) only when first called. A start calls none of them: the listening socket's
    // plumbing goes through the JDK's own natives (Fds).
    private static final class Fcntl {
        static final MethodHandle H = function("fcntl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), true, Linker.Option.firstVariadicArg(2));
    }

    private static final class Setsockopt {
        static final MethodHandle H = function("setsockopt",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), true);
    }

    private static final class PthreadSigmask {
        static final MethodHandle H = function("pthread_sigmask", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), false);
    }

    private static final class Execve {
        static final MethodHandle H = function("execve", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), true);
    }

    private static final class SignalDisposition {
        static final MethodHandle H = function("signal", FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS), false);
    }

    private static final class Kill {
        static final MethodHandle H = function("kill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), true);
    }

    private static final class Socket {
        static final MethodHandle H = function("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), true);
    }

    private static final class SendTo {
        static final MethodHandle H = function("sendto", FunctionDescriptor.of(ValueLayout.JAVA_LONG, JAVA_INT, ADDRESS,
                ValueLayout.JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), true);
    }

    private Libc() { }

    public static int fcntl(int fd, int cmd, int arg) {
        return call("fcntl(" + fd + ", " + cmd + ")", Fcntl.H, fd, cmd, arg);
    }

    /**
     * Sends {@code message} as one datagram to the Unix socket at {@code path} ({@code @name}: the
     * abstract namespace), from a socket opened and closed for it.
     */
    public static void sendDatagram(String path, byte[] message) {
        String what = "sendto(" + path + ")";
        byte[] name = path.getBytes(StandardCharsets.UTF_8);
        if (name.length == 0 || name.length > SUN_PATH - 1) {
            throw new OsException(what + ": a socket path of " + name.length + " bytes", 0);
        }
        if (name[0] == '@') {
            name[0] = 0;
        }
        int fd = call("socket(AF_UNIX, SOCK_DGRAM)", Socket.H, AF_UNIX, SOCK_DGRAM | O_CLOEXEC, 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment address = arena.allocate(2 + SUN_PATH);
            address.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
            MemorySegment.copy(name, 0, address, ValueLayout.JAVA_BYTE, 2, name.length);
            MemorySegment body = arena.allocateFrom(ValueLayout.JAVA_BYTE, message);
            MemorySegment state = arena.allocate(CALL_STATE);
            long sent = (long) SendTo.H.invokeExact(state, fd, body, (long) message.length, 0, address, 2 + name.length);
            if (sent < 0) {
                throw new OsException(what, (int) ERRNO.get(state, 0L));
            }
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new OsException(what, t);
        } finally {
            Fds.close(fd);
        }
    }

    public static void kill(int pid, int signal) {
        call("kill(" + pid + ", " + signal + ")", Kill.H, pid, signal);
    }

    /**
     * Gives {@code signal} its default disposition back in this process, undoing a SIG_IGN inherited
     * across exec (a shell ignores INT for its background jobs), so the JVM may handle it. Must run
     * before the JVM is asked to handle it.
     */
    public static void defaultDisposition(int signal) {
        disposition(signal, MemorySegment.NULL, "SIG_DFL");
    }

    private static void disposition(int signal, MemorySegment handler, String name) {
        String what = "signal(" + signal + ", " + name + ")";
        try {
            MemorySegment previous = (MemorySegment) SignalDisposition.H.invokeExact(signal, handler);
            if (previous.address() == -1L) {
                throw new OsException(what, 22);
            }
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new OsException(what, t);
        }
    }

    /**
     * Attaches a classic BPF filter that drops every packet to the socket {@code fd}: on a listening
     * socket, the kernel then completes no new connection (SYNs and handshakes' last ACKs are
     * dropped, so clients retry, and are refused once the socket is closed) while those already in
     * its accept queue stay there to be accepted.
     */
    public static void dropAllPackets(int fd) {
        String what = "setsockopt(" + fd + ", SO_ATTACH_FILTER)";
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ret0 = arena.allocate(8);            // struct sock_filter { BPF_RET | BPF_K, 0, 0, 0 }
            ret0.set(ValueLayout.JAVA_SHORT, 0, (short) 0x06);
            MemorySegment program = arena.allocate(16);         // struct sock_fprog { len, filter }
            program.set(ValueLayout.JAVA_SHORT, 0, (short) 1);
            program.set(ADDRESS, 8, ret0);
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) Setsockopt.H.invokeExact(state, fd, SOL_SOCKET, SO_ATTACH_FILTER, program, 16);
            if (rc < 0) {
                throw new OsException(what, (int) ERRNO.get(state, 0L));
            }
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new OsException(what, t);
        }
    }

    /**
     * Sets the calling thread's signal mask to exactly {@code signals} (numbers): the others are
     * unblocked, so that a program it execs starts with that mask (the JVM blocks some, such as
     * QUIT, in its threads).
     */
    public static void setSignalMask(int... signals) {
        sigmask(SIG_SETMASK, signals);
    }

    /** Blocks {@code signals} in the calling thread: the kernel keeps them pending for it. */
    public static void blockSignals(int... signals) {
        sigmask(SIG_BLOCK, signals);
    }

    /** Unblocks {@code signals} in the calling thread: pending ones are delivered now. */
    public static void unblockSignals(int... signals) {
        sigmask(SIG_UNBLOCK, signals);
    }

    private static void sigmask(int how, int... signals) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment set = arena.allocate(SIGSET_BYTES);
            for (int signal : signals) {
                // Linux's sigset_t: bit (signal - 1), in unsigned longs
                long word = set.get(ValueLayout.JAVA_LONG, (signal - 1) / 64 * 8L);
                set.set(ValueLayout.JAVA_LONG, (signal - 1) / 64 * 8L, word | 1L << ((signal - 1) % 64));
            }
            int rc = (int) PthreadSigmask.H.invokeExact(how, set, MemorySegment.NULL);
            if (rc != 0) {
                throw new OsException("pthread_sigmask", rc);
            }
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new OsException("pthread_sigmask", t);
        }
    }

    /**
     * Sets {@code signal} to be ignored in this process: unlike a handler, that disposition
     * survives exec. Kept pending while blocked (the kernel does not discard a blocked signal).
     */
    public static void ignoreSignal(int signal) {
        disposition(signal, SIG_IGN, "SIG_IGN");
    }

    /** Links {@link #execve} now, so that the call itself costs no stub generation (tens of milliseconds). */
    public static void linkExecve() {
        if (Execve.H == null) {
            throw new IllegalStateException("execve");
        }
    }

    /** Replaces this process image; returns only by throwing. */
    public static void execve(String path, List<String> argv, List<String> env) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) Execve.H.invokeExact(state, arena.allocateFrom(path), strings(arena, argv), strings(arena, env));
            throw new OsException("execve(" + path + ")", rc < 0 ? (int) ERRNO.get(state, 0L) : rc);
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new OsException("execve", t);
        }
    }

    private static MemorySegment strings(Arena arena, List<String> values) {
        MemorySegment array = arena.allocate(ValueLayout.ADDRESS, values.size() + 1L);
        for (int i = 0; i < values.size(); i++) {
            array.setAtIndex(ValueLayout.ADDRESS, i, arena.allocateFrom(values.get(i)));
        }
        array.setAtIndex(ValueLayout.ADDRESS, values.size(), MemorySegment.NULL);
        return array;
    }

    private static int call(String what, MethodHandle handle, int... args) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = switch (args.length) {
                case 1 -> (int) handle.invokeExact(state, args[0]);
                case 2 -> (int) handle.invokeExact(state, args[0], args[1]);
                case 3 -> (int) handle.invokeExact(state, args[0], args[1], args[2]);
                default -> throw new IllegalArgumentException(what);
            };
            if (rc < 0) {
                throw new OsException(what, (int) ERRNO.get(state, 0L));
            }
            return rc;
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new OsException(what, t);
        }
    }

    private static MethodHandle function(String name, FunctionDescriptor descriptor, boolean errno,
                                         Linker.Option... options) {
        MemorySegment symbol = LIBC.find(name).orElseThrow(() -> new OsException("libc has no " + name, 0));
        Linker.Option[] all = options;
        if (errno) {
            all = Arrays.copyOf(options, options.length + 1);
            all[options.length] = Linker.Option.captureCallState("errno");
        }
        return LINKER.downcallHandle(symbol, descriptor, all);
    }
}
