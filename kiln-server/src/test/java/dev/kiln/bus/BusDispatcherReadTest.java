package dev.kiln.bus;

import dev.kiln.api.Bus;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.Notifications;
import dev.kiln.db.ScratchDatabase;
import dev.kiln.db.Transactions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Reads of the bus table by clients further behind than the latest messages a process keeps. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class BusDispatcherReadTest {

    static ScratchDatabase scratch;
    static ConnectionPools pools;
    static String db;

    @BeforeAll
    static void createDatabase() {
        scratch = ScratchDatabase.create("busread", 4);
        pools = scratch.pools();
        db = scratch.name();
        Transactions.inTransaction(pools, db, c -> {
            try (var statement = c.createStatement()) {
                statement.execute(BusStore.TABLES.ddl());
            }
            BusStore.insert(c, List.<String[]>of(new String[] {"herd", BusStore.encode("note", Map.of("text", "m"))},
                    new String[] {"elsewhere", BusStore.encode("note", Map.of("text", "other"))}));
            return null;
        });
    }

    @AfterAll
    static void dropDatabase() {
        if (scratch != null) {
            scratch.close();
        }
    }

    @Test
    void twoHundredFreshClientsReadingAtOnceShareAFewQueriesAndEachGetsTheMessage() throws Exception {
        try (Notifications notifications = new Notifications(pools)) {
            BusDispatcher dispatcher = new BusDispatcher(pools, notifications, BusDispatcher.Limits.DEFAULT);
            CountDownLatch go = new CountDownLatch(1);
            ConcurrentLinkedQueue<List<Bus.Message>> answers = new ConcurrentLinkedQueue<>();
            List<Thread> clients = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                // the same channels, in either order: one read
                List<String> channels = i % 2 == 0 ? List.of("herd", "quiet") : List.of("quiet", "herd");
                clients.add(Thread.ofVirtual().start(() -> {
                    try {
                        go.await();
                        answers.add(dispatcher.read(db, channels, 0));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }));
            }
            go.countDown();
            for (Thread client : clients) {
                client.join();
            }
            assertThat(answers).hasSize(200).allSatisfy(messages -> assertThat(messages)
                    .extracting(m -> m.channel() + ":" + m.payload()).containsExactly("herd:{text=m}"));
            assertThat(dispatcher.tableQueries()).as("queries for 200 identical reads at once")
                    .isPositive().isLessThan(100);

            // a read of other channels is a read of its own
            long before = dispatcher.tableQueries();
            assertThat(dispatcher.read(db, List.of("elsewhere"), 0)).extracting(Bus.Message::channel).containsExactly("elsewhere");
            assertThat(dispatcher.tableQueries()).isEqualTo(before + 1);
        }
    }
}
