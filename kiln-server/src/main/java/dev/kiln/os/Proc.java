package dev.kiln.os;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Readers of /proc for this process: resident memory, ignored signals, open fds, the command line. */
public final class Proc {

    private static final Path SELF = Path.of("/proc/self");

    private Proc() { }

    /** Resident set size in bytes (VmRSS), the measure of Kiln's memory limits; -1 if unreadable. */
    public static long rss() {
        try {
            for (String line : Files.readAllLines(SELF.resolve("status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.substring(6).replace("kB", "").trim()) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    /**
     * True when {@code signal} (a number) is set to be ignored in this process (SigIgn), as a
     * shell leaves INT for its background jobs; true as well when /proc cannot tell.
     */
    public static boolean ignores(int signal) {
        try {
            for (String line : Files.readAllLines(SELF.resolve("status"))) {
                if (line.startsWith("SigIgn:")) {
                    return (Long.parseUnsignedLong(line.substring(7).trim(), 16) >>> (signal - 1) & 1) != 0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return true;
        }
        return true;
    }

    /** The open file descriptors of this process. */
    public static List<Integer> openFds() {
        List<Integer> fds = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(SELF.resolve("fd"))) {
            for (Path entry : dir) {
                fds.add(Integer.parseInt(entry.getFileName().toString()));
            }
        } catch (IOException e) {
            throw new OsException("listing /proc/self/fd", e);
        }
        return fds;
    }

    /** argv of this process, as the kernel holds it. */
    public static List<String> commandLine() {
        try {
            String raw = Files.readString(SELF.resolve("cmdline"));
            List<String> args = new ArrayList<>(List.of(raw.split("\0", -1)));
            if (!args.isEmpty() && args.getLast().isEmpty()) {
                args.removeLast();
            }
            return args;
        } catch (IOException e) {
            throw new OsException("reading /proc/self/cmdline", e);
        }
    }

    /** The program file of this process (the java binary). */
    public static String executable() {
        try {
            return Files.readSymbolicLink(SELF.resolve("exe")).toString();
        } catch (IOException e) {
            throw new OsException("reading /proc/self/exe", e);
        }
    }
}
