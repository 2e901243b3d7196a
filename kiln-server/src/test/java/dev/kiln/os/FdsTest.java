package dev.kiln.os;

import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FdsTest {

    @Test
    void aDuplicateIsTheSameListeningSocketAndOutlivesTheOriginal() throws Exception {
        int copy;
        InetSocketAddress address;
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress("127.0.0.1", 0));
            address = (InetSocketAddress) server.getLocalAddress();
            int fd = fdOf(server);
            assertThat(Fds.isListeningSocket(fd)).isTrue();
            copy = Fds.dup(fd);
            assertThat(copy).isGreaterThan(2).isNotEqualTo(fd);
            assertThat(link(copy)).isEqualTo(link(fd));
        }
        try {
            // the original is closed: the kernel still queues connections for the duplicate
            assertThat(Fds.isListeningSocket(copy)).isTrue();
            try (Socket client = new Socket(address.getAddress(), address.getPort())) {
                assertThat(client.isConnected()).isTrue();
            }
        } finally {
            Fds.close(copy);
        }
        assertThat(Fds.isListeningSocket(-1)).as("no descriptor").isFalse();
        assertThatThrownBy(() -> Fds.close(-1)).isInstanceOf(OsException.class).hasMessageContaining("close(-1)");
    }

    @Test
    void onlyAListeningSocketCountsAsOne() throws Exception {
        int devNull = Fds.openReadOnly("/dev/null");
        try {
            assertThat(link(devNull)).isEqualTo("/dev/null");
            assertThat(Fds.isListeningSocket(devNull)).as("a file").isFalse();
        } finally {
            Fds.close(devNull);
        }
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(server.getLocalAddress())) {
            assertThat(Fds.isListeningSocket(fdOf(client))).as("a connected socket").isFalse();
        }
        assertThatThrownBy(() -> Fds.openReadOnly("/no/such/file")).isInstanceOf(OsException.class)
                .hasMessageContaining("open(/no/such/file)");
    }

    @Test
    void dup2PutsOneDescriptorOverAnother() throws Exception {
        int first = Fds.openReadOnly("/dev/null");
        int second = Fds.openReadOnly("/proc/self/status");
        try {
            Fds.dup2(first, second);
            assertThat(link(second)).isEqualTo("/dev/null");
        } finally {
            Fds.close(first);
            Fds.close(second);
        }
    }

    private static String link(int fd) throws Exception {
        return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
    }

    private static int fdOf(Object channel) throws Exception {
        Method getFdVal = Class.forName("sun.nio.ch.SelChImpl").getDeclaredMethod("getFDVal");
        getFdVal.setAccessible(true);
        return (int) getFdVal.invoke(channel);
    }
}
