package dev.kiln.server;

import dev.kiln.logging.Logging;
import dev.kiln.os.Libc;
import dev.kiln.os.ListenSocket;
import dev.kiln.os.OsException;
import dev.kiln.os.Proc;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * "Like the legend of the phoenix, all ends with beginnings": the in-place restart. After a graceful
 * stop, the same command line is exec'd in this very process, so the pid stays and the listening
 * socket on fd 0 stays open while the new JVM boots: the kernel queues connections meanwhile.
 */
final class Phoenix {

    /** Odoo drops these on a re-exec: installing or updating again, or re-saving the file, is not wanted. */
    private static final Set<String> ONE_SHOT_WITH_VALUE = Set.of("-i", "--init", "-u", "--update");
    private static final Set<String> ONE_SHOT_FLAGS = Set.of("-s", "--save");
    static final String MAIN_CLASS = "dev.kiln.Main";

    private Phoenix() { }

    /** Never returns normally: either the new image runs, or an {@link OsException} says why not. */
    static void reexec(boolean keepSocket, SignalQueue signals) {
        List<String> argv = withoutOneShotOptions(Proc.commandLine());
        Map<String, String> env = new TreeMap<>(System.getenv());
        env.remove("LISTEN_FDS");
        env.remove("LISTEN_PID");
        env.remove("LISTEN_FDNAMES");
        SignalQueue.EXEC_ENV.forEach(env::remove);
        if (keepSocket) {
            env.put(ListenSocket.INHERITED_FD_ENV, "0");
            ListenSocket.prepareForExec();
        }
        flushLogs();
        String path = Proc.executable();
        Libc.linkExecve();
        // from here until the next image unblocks them, the server's signals wait pending
        env.putAll(signals.holdForExec());
        closeOnExecAbove2();        // last: a descriptor opened after it would reach the next image
        Libc.execve(path, argv, env.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList());
    }

    static List<String> withoutOneShotOptions(List<String> argv) {
        int main = argv.indexOf(MAIN_CLASS);
        List<String> kept = new ArrayList<>(argv.subList(0, main + 1));
        for (int i = main + 1; i < argv.size(); i++) {
            String arg = argv.get(i);
            String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
            if (ONE_SHOT_FLAGS.contains(arg)) {
                continue;
            }
            if (ONE_SHOT_WITH_VALUE.contains(name)) {
                if (!arg.contains("=")) {
                    i++;                        // the value is the next argument
                }
                continue;
            }
            if ((arg.startsWith("-i") || arg.startsWith("-u")) && arg.length() > 2 && !arg.startsWith("--")) {
                continue;                       // -ibase,web
            }
            kept.add(arg);
        }
        return kept;
    }

    /** The JDK leaves its own descriptors (jars, the epoll fds, /dev/random) open across exec. */
    private static void closeOnExecAbove2() {
        for (int fd : Proc.openFds()) {
            if (fd > 2) {
                try {
                    Libc.fcntl(fd, Libc.F_SETFD, Libc.FD_CLOEXEC);
                } catch (OsException e) {
                    // The directory stream's own fd is already closed: nothing to mark.
                }
            }
        }
    }

    static void flushLogs() {
        Logging.shutdown();
    }
}
