package dev.kiln.failure;

/**
 * Kiln's own failures that end a command: the message is the one line the user sees (what, which
 * option, file, addon or value, what to do) and the exit code is the documented one.
 */
public class KilnException extends RuntimeException {

    /** Exit codes, as documented in docs/operator-guide.md. */
    public static final int OK = 0, FAILURE = 1, USAGE = 2, WORKER_BOOT = 3;

    private final int exitCode;

    public KilnException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public KilnException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    public static KilnException usage(String message) {
        return new KilnException(USAGE, message);
    }

    public static KilnException failure(String message) {
        return new KilnException(FAILURE, message);
    }

    public int exitCode() {
        return exitCode;
    }
}
