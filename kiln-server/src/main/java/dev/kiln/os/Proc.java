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
        String kilobytes = statusField("VmRSS");
        try {
            return kilobytes == null ? -1 : Long.parseLong(kilobytes.replace("kB", "").trim()) * 1024;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /**
     * True when {@code signal} (a number) is set to be ignored in this process (SigIgn), as a
     * shell leaves INT for its background jobs; true as well when /proc cannot tell.
     */
    public static boolean ignores(int signal) {
        String mask = statusField("SigIgn");
        try {
            return mask == null || (Long.parseUnsignedLong(mask.trim(), 16) >>> (signal - 1) & 1) != 0;
        } catch (NumberFormatException e) {
            return true;
        }
    }

    /** The value of the line {@code name:} of /proc/self/status, or null when there is none or it cannot be read. */
    private static String statusField(String name) {
        try {
            for (String line : Files.readAllLines(SELF.resolve("status"))) {
                if (line.startsWith(name + ":")) {
                    return line.substring(name.length() + 1);
                }
            }
        } catch (IOException e) {
            return null;
        }
        return null;
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
