package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A failover under a running Kiln whose {@code db_host} lists a primary and its streaming standby
 * (Debian's PostgreSQL, {@link StreamingPair}): the primary dies and the standby is promoted while
 * a client calls all along. Every call gets an answer within its bound (a fault naming the lost
 * connection, never a hang or a stack); the same process then serves writes on the new primary,
 * without a restart, and what was committed before is there. The window is printed.
 */
@Tag("process")
class FailoverTest {

    @TempDir
    Path dir;

    @Test
    void aPromotedStandbyIsFoundWithoutARestartAndNothingCommittedIsLost() throws Exception {
        try (StreamingPair pair = StreamingPair.start();
             KilnProcess kiln = KilnProcess.start(Files.createTempDirectory(dir, "kiln"), "--db_host=" + pair.hosts(),
                     "--db_user=kiln", "-d", "failover", "--max-cron-threads=1")) {
            kiln.awaitReady();             // the database made on the primary, base installed
            String url = "http://127.0.0.1:" + kiln.port();
            String before = Commands.python(dir, """
                    import sys, xmlrpc.client
                    models = xmlrpc.client.ServerProxy(sys.argv[1] + "/xmlrpc/2/object")
                    print(models.execute_kw("failover", 2, "admin", "res.partner", "create", [{"name": "Before the failover"}]))
                    """, url).strip();
            pair.awaitCaughtUp();
            long pid = kiln.pid();

            // a client calling all along: started before the primary dies, ended by the test once the promotion is done
            Path started = dir.resolve("started");
            Path promoted = dir.resolve("promoted");
            java.util.concurrent.CompletableFuture<String> client = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return Commands.python(dir, """
                            import os, socket, sys, time, xmlrpc.client
                            socket.setdefaulttimeout(30)        # a call that hangs fails the test
                            models = xmlrpc.client.ServerProxy(sys.argv[1] + "/xmlrpc/2/object")
                            start, failures, first, last, done, kinds = time.monotonic(), 0, None, None, 0, set()
                            while time.monotonic() - start < 120:
                                try:
                                    models.execute_kw("failover", 2, "admin", "res.partner", "create", [{"name": "During"}])
                                    done += 1
                                    if done == 1:
                                        open(sys.argv[3], "w").close()
                                    if os.path.exists(sys.argv[4]):
                                        break
                                except (xmlrpc.client.ProtocolError, xmlrpc.client.Fault) as refused:
                                    failures += 1
                                    kinds.add(f"HTTP {refused.errcode}" if isinstance(refused, xmlrpc.client.ProtocolError)
                                              else f"fault {refused.faultCode}: {refused.faultString.splitlines()[0]}")
                                    now = time.monotonic()
                                    first, last = first or now, now
                                    time.sleep(0.05)
                            print("served again", os.path.exists(sys.argv[4]))
                            print("before", models.execute_kw("failover", 2, "admin", "res.partner", "search_count",
                                                              [[["id", "=", int(sys.argv[2])]]]))
                            print("window", failures, "calls refused over", round((last - first) if first else 0, 2), "s:",
                                  sorted(kinds))
                            """, url, before, started.toString(), promoted.toString());
                } catch (Exception e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60))
                    .until(() -> Files.exists(started) || client.isDone());
            pair.failOver();
            Files.createFile(promoted);
            String out = client.get(3, java.util.concurrent.TimeUnit.MINUTES);
            assertThat(out.lines()).as(kiln.log()).hasSize(3).startsWith("served again True", "before 1");
            assertThat(out.lines().toList().get(2)).as("the failover window, as measured")
                    .matches("window \\d+ calls refused over [0-9.]+ s: .*");
            System.out.println("FailoverTest: " + out.lines().toList().get(2));
            assertThat(kiln.pid()).as("the same process").isEqualTo(pid);
            assertThat(kiln.log()).as("a refused call is one line, no stack").doesNotContain("\tat ");
            assertThat(kiln.process().isAlive()).isTrue();
            assertThat(pair.psql(pair.standbyPort, "SELECT pg_is_in_recovery()").strip()).as("the standby is the primary now")
                    .isEqualTo("f");
        }
    }
}
