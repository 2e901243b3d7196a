package dev.kiln.server;

import dev.kiln.server.WorkerChannel.Heard;
import dev.kiln.server.WorkerMessage.Hello;
import dev.kiln.server.WorkerMessage.Ready;
import dev.kiln.server.WorkerMessage.Recycle;
import dev.kiln.server.WorkerMessage.State;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.awaitility.Awaitility.await;

/** The master's and the worker's ends of the channel over a real Unix domain socket, in one process. */
class WorkerChannelTest {

    private final AtomicInteger wakes = new AtomicInteger();
    private WorkerChannel channel;

    @BeforeEach
    void open() throws IOException {
        channel = WorkerChannel.open(wakes::incrementAndGet, null);
    }

    @AfterEach
    void close() {
        channel.close();
    }

    @Test
    void aWorkerPresentingItsTokenIsHeardInOrder() {
        try (WorkerChannel.Link link = WorkerChannel.connect(channel.admit(7, "Worker 7"))) {
            link.tell(new Ready(8069));
            link.tell(new State(10, 1, 1 << 20, 5, "GET /hello"));
            link.tell(new Recycle("limit_request"));

            assertThat(heard(3)).extracting(Heard::worker, Heard::message).containsExactly(
                    tuple(7, new Ready(8069)),
                    tuple(7, new State(10, 1, 1 << 20, 5, "GET /hello")),
                    tuple(7, new Recycle("limit_request")));
        }
    }

    @Test
    void aStateReportWaitsForTheMastersTickWhileNewsWakesIt() {
        try (WorkerChannel.Link link = WorkerChannel.connect(channel.admit(7, "Worker 7"))) {
            link.tell(new State(1, 0, 1, 0, ""));
            link.tell(new State(2, 0, 1, 0, ""));
            link.tell(new Ready(8069));
            heard(3);
            // the reader wakes after it queues: a wake for either state would have come before the ready was queued
            await().atMost(Duration.ofSeconds(10)).until(() -> wakes.get() >= 1);
            assertThat(wakes).hasValue(1);

            link.tell(new Recycle("limit_memory_soft"));
            heard(1);
            await().atMost(Duration.ofSeconds(10)).until(() -> wakes.get() == 2);
        }
    }

    @Test
    void aMalformedMessageIsDroppedAndTheReaderReadsOn() throws Exception {
        Map<String, String> env = channel.admit(3, "Worker 3");
        try (SocketChannel raw = SocketChannel.open(UnixDomainSocketAddress.of(env.get(WorkerChannel.PATH_ENV)))) {
            write(raw, WorkerCodec.encode(new Hello(env.get(WorkerChannel.TOKEN_ENV))));
            write(raw, new byte[] {0, 4, 1, 99, 0, 0});                        // type 99: no such message
            write(raw, new byte[] {0, 3, 1, 2, 0});                             // a ready cut short
            write(raw, WorkerCodec.encode(new Ready(8069)));

            assertThat(heard(1)).extracting(Heard::message).containsExactly(new Ready(8069));
        }
    }

    @Test
    void aConnectionWithAnUnknownOrAlreadyUsedTokenIsClosedUnheard() throws Exception {
        Map<String, String> env = channel.admit(1, "Worker 1");
        try (WorkerChannel.Link first = WorkerChannel.connect(env)) {
            first.tell(new Ready(1));
            // heard: so its token was taken before anyone else presents it
            assertThat(heard(1)).extracting(Heard::worker).containsExactly(1);

            assertClosedByTheMaster(env.get(WorkerChannel.PATH_ENV), env.get(WorkerChannel.TOKEN_ENV));
            assertClosedByTheMaster(env.get(WorkerChannel.PATH_ENV), "not-a-token");
            first.tell(new Ready(2));
            assertThat(heard(1)).extracting(Heard::worker).containsExactly(1);
        }
    }

    @Test
    void aForgottenTokenNoLongerAdmitsItsWorker() throws Exception {
        Map<String, String> env = channel.admit(2, "Worker 2");
        channel.forget(2);

        assertClosedByTheMaster(env.get(WorkerChannel.PATH_ENV), env.get(WorkerChannel.TOKEN_ENV));
    }

    @Test
    void theSocketLivesInAPrivateDirectoryRemovedOnClose() throws Exception {
        Path socket = Path.of(channel.admit(1, "Worker 1").get(WorkerChannel.PATH_ENV));

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket.getParent()))).isEqualTo("rwx------");
        channel.close();
        assertThat(socket.getParent()).doesNotExist();
    }

    @Test
    void theDirectoryOfAMasterThatIsGoneIsRemovedByTheNextOne() throws Exception {
        Path mine = Path.of(channel.admit(1, "Worker 1").get(WorkerChannel.PATH_ENV)).getParent();
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        Path left = Files.createDirectory(mine.resolveSibling("kiln-channel-" + gone.pid() + "-1"));
        Files.createFile(left.resolve("workers.sock"));

        try (WorkerChannel next = WorkerChannel.open(() -> { }, null)) {
            assertThat(left).doesNotExist();
            assertThat(mine).as("a live master's").exists();
        }
    }

    private List<Heard> heard(int count) {
        List<Heard> heard = new ArrayList<>();
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            for (Heard next; (next = channel.poll()) != null; ) {
                heard.add(next);
            }
            return heard.size() >= count;
        });
        return heard;
    }

    private static void assertClosedByTheMaster(String path, String token) throws Exception {
        try (SocketChannel raw = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            write(raw, WorkerCodec.encode(new Hello(token)));
            // a guard against hanging on a connection left open, not a bound on how fast it closes
            int read = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> raw.read(ByteBuffer.allocate(1)));
            assertThat(read).as("the master closed the connection").isEqualTo(-1);
        }
    }

    private static void write(SocketChannel socket, byte[] bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
            socket.write(buffer);
        }
    }
}
