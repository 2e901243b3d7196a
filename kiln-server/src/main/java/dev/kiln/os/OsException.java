package dev.kiln.os;

/** A failed system call, with its errno when there is one. */
public final class OsException extends RuntimeException {

    private final int errno;

    public OsException(String call, int errno) {
        super(call + " failed" + (errno != 0 ? " (errno " + errno + ")" : ""));
        this.errno = errno;
    }

    public OsException(String call, Throwable cause) {
        super(call + " failed: " + cause, cause);
        this.errno = 0;
    }

    public int errno() {
        return errno;
    }
}
