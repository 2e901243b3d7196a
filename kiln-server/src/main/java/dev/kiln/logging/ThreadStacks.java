package dev.kiln.logging;

import java.util.Arrays;
import java.util.stream.Collectors;

/** A thread's stack as a limit's log line shows it: one {@code \tat frame} per line. */
public final class ThreadStacks {

    private ThreadStacks() { }

    public static String of(Thread thread) {
        return Arrays.stream(thread.getStackTrace()).map(frame -> "\tat " + frame).collect(Collectors.joining("\n"));
    }
}
