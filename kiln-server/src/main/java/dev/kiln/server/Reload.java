package dev.kiln.server;

import dev.kiln.server.WorkerProcess.Kind;

import java.util.ArrayList;
import java.util.List;

/**
 * Where the prefork master's reload (HUP) stands, as one value the master's loop replaces at each
 * step: the generation serving (or starting, during a reload), the new workers not all ready yet
 * ({@code pending}), the kinds of worker to start once one of them is ready ({@code deferred}), the
 * deadline by which they must all be ready, and whether another HUP came meanwhile ({@code again}).
 * A reload is in progress while {@code pending} is not empty; when it ends, finished or given up,
 * the other fields are back to rest, so no stale deadline or deferred worker outlives its reload.
 *
 * @param <W> the master's handle on a worker
 */
record Reload<W>(int generation, List<W> pending, List<Kind> deferred, long deadlineNanos, boolean again) {

    Reload {
        pending = List.copyOf(pending);
        deferred = List.copyOf(deferred);
    }

    /** The master's start: generation 1, no reload. */
    static <W> Reload<W> first() {
        return new Reload<>(1, List.of(), List.of(), 0, false);
    }

    boolean inProgress() {
        return !pending.isEmpty();
    }

    /** The generation the next reload starts; its workers are spawned with it before {@link #begin}. */
    int nextGeneration() {
        return generation + 1;
    }

    /** A reload of the next generation: {@code fresh} started now, {@code later} once one of them is ready. */
    Reload<W> begin(List<W> fresh, List<Kind> later, long deadlineNanos) {
        if (inProgress() || fresh.isEmpty()) {
            throw new IllegalStateException("a reload begins with new workers, and not during another: " + this);
        }
        return new Reload<>(nextGeneration(), fresh, later, deadlineNanos, false);
    }

    /** A HUP during this reload: another follows it, however many came. */
    Reload<W> followedByAnother() {
        return new Reload<>(generation, pending, deferred, deadlineNanos, true);
    }

    /**
     * The deferred workers, started: they join the pending ones, and the deadline is theirs if
     * later (they boot from now), never earlier.
     */
    Reload<W> joinedBy(List<W> started, long deadlineNanos) {
        List<W> all = new ArrayList<>(pending);
        all.addAll(started);
        long deadline = deadlineNanos - this.deadlineNanos > 0 ? deadlineNanos : this.deadlineNanos;
        return new Reload<>(generation, all, List.of(), deadline, again);
    }

    /** Whether {@code nowNanos} (of {@link System#nanoTime}) is past the deadline. */
    boolean overdue(long nowNanos) {
        return nowNanos - deadlineNanos > 0;
    }

    /** Every new worker is ready: the generation serves. {@link #again} is the caller's to act on first. */
    Reload<W> finished() {
        return new Reload<>(generation, List.of(), List.of(), 0, false);
    }

    /**
     * Given up (a new worker exited or was late): the generation stays only if some of its workers
     * already serve; otherwise the old one serves on as if the reload had never begun. A HUP that
     * came meanwhile is dropped with it: the log says the reload was given up, and the operator
     * sends HUP again once the new code can boot.
     */
    Reload<W> abandoned(boolean someServe) {
        return new Reload<>(someServe ? generation : generation - 1, List.of(), List.of(), 0, false);
    }
}
