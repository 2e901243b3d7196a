package dev.kiln.server;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.kiln.server.ServerLoop.step;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ServerLoopTest {

    private static final Duration TICK = Duration.ofMillis(10);

    private final SignalQueue signals = new SignalQueue();
    private final List<String> handled = new ArrayList<>();

    @Test
    void aStepThatThrowsIsLoggedAndTheNextStepsStillRun() {
        AtomicInteger failures = new AtomicInteger();
        AtomicInteger turns = new AtomicInteger();
        ServerLoop loop = new ServerLoop("test", signals, TICK, handled::add, List.of(
                step("failing", () -> {
                    failures.incrementAndGet();
                    throw new IllegalStateException("broken");
                }),
                step("counting", turns::incrementAndGet)));
        loop.run(() -> turns.get() == 3);
        assertThat(failures).hasValue(3);
    }

    @Test
    void aHandlerThatThrowsDoesNotKeepTheStepsFromRunning() {
        AtomicInteger turns = new AtomicInteger();
        signals.addonsChanged();
        ServerLoop loop = new ServerLoop("test", signals, TICK, signal -> {
            throw new IllegalArgumentException(signal);
        }, List.of(step("counting", turns::incrementAndGet)));
        loop.run(() -> turns.get() == 1);
        assertThat(turns).hasValue(1);
    }

    @Test
    void aVirtualMachineErrorEndsTheLoop() {
        ServerLoop loop = new ServerLoop("test", signals, TICK, handled::add, List.of(step("exhausted", () -> {
            throw new OutOfMemoryError("test");
        })));
        assertThatThrownBy(() -> loop.run(() -> false)).isInstanceOf(OutOfMemoryError.class);
    }

    @Test
    void theHandlerGetsTheQueuedSignalsInOrderButNoWakeUp() {
        signals.wake();
        signals.addonsChanged();
        signals.wake();
        ServerLoop loop = new ServerLoop("test", signals, TICK, handled::add, List.of());
        loop.run(() -> !handled.isEmpty());
        assertThat(handled).containsExactly(SignalQueue.ADDONS_CHANGED);
    }

    @Test
    void oneSignalPerTurnThenTheSteps() {
        List<String> events = new ArrayList<>();
        signals.addonsChanged();
        signals.addonsChanged();
        ServerLoop loop = new ServerLoop("test", signals, TICK, events::add, List.of(step("step", () -> events.add("step"))));
        loop.run(() -> events.size() == 4);
        assertThat(events).containsExactly(SignalQueue.ADDONS_CHANGED, "step", SignalQueue.ADDONS_CHANGED, "step");
    }

    @Test
    void aStepThatEndsTheLoopEndsItBeforeTheNextStep() {
        AtomicInteger after = new AtomicInteger();
        boolean[] done = {false};
        ServerLoop loop = new ServerLoop("test", signals, TICK, handled::add, List.of(
                step("ending", () -> done[0] = true),
                step("after", after::incrementAndGet)));
        loop.run(() -> done[0]);
        assertThat(after).hasValue(0);
    }

    @Test
    void anInterruptEndsTheLoopAndIsKept() {
        Thread.currentThread().interrupt();
        ServerLoop loop = new ServerLoop("test", signals, TICK, handled::add, List.of());
        loop.run(() -> false);
        assertThat(Thread.interrupted()).isTrue();
    }
}
