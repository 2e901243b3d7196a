package dev.kiln.server;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import dev.kiln.os.Libc;
import dev.kiln.os.OsException;
import dev.kiln.os.Proc;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Signals, as gunicorn's arbiter takes them: the handler only enqueues, and the server's loop acts.
 * A signal that must act even while the loop is busy (a second TERM during a graceful stop, XCPU)
 * is given to {@code urgent}, which runs on the JVM's signal thread.
 */
final class SignalQueue {

    private static final Logger LOG = LoggerFactory.getLogger(SignalQueue.class);

    /** The previous image's signals, held across the exec ({@link #holdForExec}). */
    private static final String HELD_ENV = "KILN_HELD_SIGNALS";
    /** Signals the previous image had taken but not acted on. */
    private static final String QUEUED_ENV = "KILN_QUEUED_SIGNALS";
    /** HotSpot does not let Java handle these when they are ignored at its start (nohup, background jobs). */
    private static final Set<String> REFUSED_WHEN_IGNORED = Set.of("HUP", "INT", "TERM");

    private final BlockingQueue<String> queue = new LinkedBlockingQueue<>();
    /** The signals whose handler is installed, in order. */
    private final List<String> handled = new ArrayList<>();
    /** In an image started by an in-place restart, the one thread that takes the held signals. */
    private SignalReceiver receiver;
    /** INT was ignored at start and is now ignored by a handler instead ({@link #passInterruptToWorkers}). */
    private boolean interruptUnignored;

    /**
     * Handles each named signal. {@code urgent} returns true when it dealt with the signal itself;
     * otherwise the signal is queued. A signal the parent set to ignore (INT in a background job,
     * HUP under nohup) is never delivered to the JVM: say so rather than wait for it in vain.
     *
     * <p>In an image started by an in-place restart, the signals the previous image held for it
     * ({@link #holdForExec}) are taken back here and then delivered: those sent while this image
     * booted are acted on now, once this server can act, and those the previous image had taken
     * but not acted on are queued again. Must run on the thread that later calls
     * {@link #holdForExec}, a platform thread.
     */
    void install(Predicate<String> urgent, String... names) {
        Set<String> held = namesIn(System.getenv(HELD_ENV));
        for (String name : held) {
            Libc.defaultDisposition(new Signal(name).getNumber());   // still blocked: a pending one waits for its handler
        }
        for (String name : names) {
            SignalHandler handler = signal -> {
                if (!urgent.test(signal.getName())) {
                    queue.add(signal.getName());
                }
            };
            SignalHandler previous = Signal.handle(new Signal(name), handler);
            if (previous == SignalHandler.SIG_IGN && !held.contains(name)) {
                LOG.warn("SIG{} was ignored when Kiln started (nohup or a background job?): it may never arrive", name);
                if (REFUSED_WHEN_IGNORED.contains(name)) {
                    continue;
                }
            }
            handled.add(name);
        }
        for (String name : namesIn(System.getenv(QUEUED_ENV))) {
            if (handled.contains(name) && !urgent.test(name)) {
                queue.add(name);
            }
        }
        if (!held.isEmpty()) {
            receiver = SignalReceiver.start(numbers(held));
        }
    }

    /**
     * Just before an in-place restart's exec, on the thread that installed the handlers: blocks and
     * ignores every signal this image handles, and returns the environment that tells the next
     * image so. A handler does not survive exec, and a signal with its default action kills the
     * booting image (two HUPs in a row did); an ignored one would be discarded, but a blocked one
     * is kept pending by the kernel, across exec, until the next image unblocks it in
     * {@link #install}. Signals taken meanwhile by the handlers are passed on in the environment,
     * but HUP and addon changes: the restart under way loads the new code anyway (coalesced).
     */
    Map<String, String> holdForExec() {
        int[] numbers = numbers(handled);
        Libc.setSignalMask(numbers);           // this thread becomes the next image's first one
        if (receiver != null) {
            receiver.block();
        }
        for (int number : numbers) {
            Libc.ignoreSignal(number);
        }
        if (interruptUnignored) {
            Libc.ignoreSignal(2);               // the next image starts as this one did
        }
        List<String> queued = new ArrayList<>();
        for (String name; (name = queue.poll()) != null; ) {
            if (handled.contains(name) && !name.equals("HUP")) {
                queued.add(name);
            }
        }
        return Map.of(HELD_ENV, String.join(",", handled), QUEUED_ENV, String.join(",", queued));
    }

    /** The environment variables {@link #holdForExec} sets, for an exec that must not pass them on. */
    static final Set<String> EXEC_ENV = Set.of(HELD_ENV, QUEUED_ENV);

    private static Set<String> namesIn(String list) {
        Set<String> names = new LinkedHashSet<>();
        if (list != null) {
            for (String name : list.split(",")) {
                if (!name.isBlank()) {
                    names.add(name.strip());
                }
            }
        }
        return names;
    }

    private static int[] numbers(Collection<String> names) {
        return names.stream().mapToInt(name -> new Signal(name).getNumber()).toArray();
    }

    /**
     * Takes INT back when it was ignored at start: a worker gets INT from its master for the
     * server's stop, and a master started as a background job of a script (whose shell ignores
     * INT there, and so do the children) must still reach it. Call before {@link #install}.
     */
    void reclaimInterrupt() {
        if (!Proc.ignores(2)) {
            return;                             // the usual case: no native call to link
        }
        try {
            Libc.defaultDisposition(2);
        } catch (OsException e) {
            LOG.warn("SIGINT cannot be taken back ({}): the server's stop reaches this worker as a retire", e.getMessage());
        }
    }

    /**
     * A prefork master started with INT ignored (a background job of a script) goes on ignoring it,
     * but through a handler of its own instead of SIG_IGN: the workers it starts then inherit INT's
     * default disposition, which they need (INT is the server's stop for them), rather than each
     * taking it back with a native call while it starts ({@link #reclaimInterrupt}). Call after
     * {@link #install}; an INT in the microseconds between the two calls would end the master.
     */
    void passInterruptToWorkers() {
        if (handled.contains("INT") || !Proc.ignores(2)) {
            return;
        }
        try {
            Libc.defaultDisposition(2);
            Signal.handle(new Signal("INT"), signal -> LOG.info("SIGINT ignored: it was ignored when Kiln started"));
            interruptUnignored = true;
        } catch (RuntimeException e) {
            LOG.debug("SIGINT left ignored ({}): each worker takes it back itself", e.toString());
        }
    }

    /** What {@link #poll} returns after {@link #wake}: no signal, but something for the loop to look at. */
    static final String WAKE = "";

    /** Ends the loop's current {@link #poll} early (a worker became ready or exited). */
    void wake() {
        queue.add(WAKE);
    }

    /** What {@link #poll} returns after {@link #addonsChanged}: reload as for HUP, for a reason of its own. */
    static final String ADDONS_CHANGED = "addons changed";

    /** Asks the loop to reload the addons ({@code --dev=reload} saw a change that passed its check). */
    void addonsChanged() {
        queue.add(ADDONS_CHANGED);
    }

    /** Queues {@code event} for the loop as if a signal of that name had come ({@code kiln ctl}'s verbs). */
    void post(String event) {
        queue.add(event);
    }

    /** The next queued signal, waiting at most {@code timeout}; null when none came. */
    String poll(Duration timeout) throws InterruptedException {
        return queue.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * In an image started by an in-place restart, the held signals are blocked in every thread
     * (HotSpot leaves a signal that was ignored at its start as it found it), and this thread alone
     * unblocks them, so that {@link #block} can hold them again for the next exec: a thread with a
     * signal unblocked at that moment would take it and the ignored disposition would discard it.
     */
    private static final class SignalReceiver {

        private final CountDownLatch unblocked = new CountDownLatch(1);
        private final CountDownLatch release = new CountDownLatch(1);
        private final CountDownLatch blocked = new CountDownLatch(1);

        static SignalReceiver start(int[] numbers) {
            SignalReceiver receiver = new SignalReceiver();
            Thread.ofPlatform().daemon().name("kiln-signals").start(() -> receiver.receive(numbers));
            awaitUninterruptibly(receiver.unblocked);
            return receiver;
        }

        private void receive(int[] numbers) {
            try {
                Libc.unblockSignals(numbers);
            } finally {
                unblocked.countDown();
            }
            awaitUninterruptibly(release);
            try {
                Libc.blockSignals(numbers);
            } finally {
                blocked.countDown();
            }
        }

        /** Blocks the held signals again in this thread; returns once they are. */
        void block() {
            release.countDown();
            awaitUninterruptibly(blocked);
        }

        private static void awaitUninterruptibly(CountDownLatch latch) {
            boolean interrupted = false;
            while (true) {
                try {
                    latch.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
