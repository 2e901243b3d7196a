package dev.kiln.rpc;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The XML-RPC codec against Python's standard {@code xmlrpc.client} (what Odoo's external API
 * documentation uses): calls Python writes are read, responses Kiln writes are read back by Python;
 * and hostile input (XXE, entity expansion, deep nesting, oversize, random mutations) only ever
 * gives an {@link XmlRpcException}.
 */
class XmlRpcTest {

    @Test
    void readsEveryTypePythonWrites() throws Exception {
        String xml = python("""
                import sys, xmlrpc.client, datetime
                params = (42, -7, 2.5, True, False, 'héllo <&> wörld', xmlrpc.client.Binary(b'\\x00\\x01bin'),
                          datetime.datetime(2026, 11, 26, 22, 30, 5), {'a': [1, 'two', {'deep': None}], 'b': {}}, [], None, '')
                sys.stdout.write(xmlrpc.client.dumps(params, 'execute_kw', allow_none=True))
                """, "");
        XmlRpc.Call call = XmlRpc.readCall(xml.getBytes(StandardCharsets.UTF_8));
        assertThat(call.method()).isEqualTo("execute_kw");
        List<Object> p = call.params();
        assertThat(p).hasSize(12);
        assertThat(p.subList(0, 6)).containsExactly(42, -7, 2.5, true, false, "héllo <&> wörld");
        assertThat((byte[]) p.get(6)).containsExactly(0, 1, 'b', 'i', 'n');
        assertThat(p.get(7)).isEqualTo(LocalDateTime.of(2026, 11, 26, 22, 30, 5));
        Map<String, Object> nested = new LinkedHashMap<>();
        nested.put("deep", null);
        assertThat(p.get(8)).isEqualTo(Map.of("a", List.of(1, "two", nested), "b", Map.of()));
        assertThat(p.get(9)).isEqualTo(List.of());
        assertThat(p.get(10)).isNull();
        assertThat(p.get(11)).isEqualTo("");
    }

    @Test
    void pythonReadsWhatKilnWritesTheWayOdooWritesIt() throws Exception {
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("int", 7);
        value.put("long", 5_000_000_000L);
        value.put("double", 0.1);
        value.put("bool", true);
        value.put("text", "a\u0001b\u0007c <&>\ttab é \uD83D\uDE00");
        value.put("bytes", "aGVsbG8=".getBytes(StandardCharsets.US_ASCII));
        value.put("binary", new XmlRpc.Binary(new byte[]{0, (byte) 0xff}));
        value.put("datetime", LocalDateTime.of(2026, 1, 2, 3, 4, 5));
        value.put("instant", Instant.parse("2026-01-02T03:04:05Z"));
        value.put("date", LocalDate.of(2026, 1, 2));
        value.put("none", null);
        value.put("list", List.of(1, List.of(), Map.of()));
        String repr = python("""
                import sys, xmlrpc.client
                (value,), method = xmlrpc.client.loads(sys.stdin.buffer.read(), use_builtin_types=True)
                for k in sorted(value): print(k, repr(value[k]))
                """, new String(XmlRpc.response(value), StandardCharsets.UTF_8));
        assertThat(repr.lines()).containsExactly(
                "binary b'\\x00\\xff'",
                "bool True",
                "bytes 'aGVsbG8='",
                "date '2026-01-02'",
                "datetime '2026-01-02 03:04:05'",
                "double 0.1",
                "instant '2026-01-02 03:04:05'",
                "int 7",
                "list [1, [], {}]",
                "long 5000000000",
                "none None",
                "text 'abc <&>\\ttab é 😀'");
    }

    @Test
    void pythonSeesAFaultWithItsCodeAndMessage() throws Exception {
        String out = python("""
                import sys, xmlrpc.client
                try:
                    xmlrpc.client.loads(sys.stdin.buffer.read())
                except xmlrpc.client.Fault as f:
                    print(f.faultCode, f.faultString)
                """, new String(XmlRpc.fault(3, "Access Denied <for you>"), StandardCharsets.UTF_8));
        assertThat(out.strip()).isEqualTo("3 Access Denied <for you>");
    }

    @Test
    void refusesExternalEntities() {
        String xxe = """
                <?xml version="1.0"?>
                <!DOCTYPE m [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
                <methodCall><methodName>x</methodName><params><param><value><string>&xxe;</string></value></param></params></methodCall>
                """;
        assertThatThrownBy(() -> XmlRpc.readCall(xxe.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(XmlRpcException.class).hasMessageContaining("DTD");
    }

    @Test
    void refusesEntityExpansion() {
        StringBuilder dtd = new StringBuilder("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol0 \"lol\">");
        for (int i = 1; i < 10; i++) {
            dtd.append("<!ENTITY lol").append(i).append(" \"").append(("&lol" + (i - 1) + ";").repeat(10)).append("\">");
        }
        dtd.append("]><methodCall><methodName>&lol9;</methodName></methodCall>");
        // refused at the DTD, before any entity is declared, let alone expanded
        assertThatThrownBy(() -> XmlRpc.readCall(dtd.toString().getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(XmlRpcException.class).hasMessageContaining("DTD");
    }

    @Test
    void refusesDeepNestingAndOversizeBodies() {
        String deep = "<methodCall><methodName>x</methodName><params><param>"
                + "<value><array><data>".repeat(10_000) + "</data></array></value>".repeat(10_000)
                + "</param></params></methodCall>";
        assertThatThrownBy(() -> XmlRpc.readCall(deep.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(XmlRpcException.class).hasMessage("values nested deeper than 64");

        byte[] big = ("<methodCall><methodName>x</methodName><params><param><value><string>"
                + "a".repeat(2000) + "</string></value></param></params></methodCall>").getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> XmlRpc.readCall(new ByteArrayInputStream(big), 1000))
                .isInstanceOf(XmlRpcException.class).hasMessage("request larger than 1000 bytes");
    }

    @Test
    void malformedCallsAreNamed() {
        assertThatThrownBy(() -> XmlRpc.readCall("<methodCall><methodName>x</methodName>".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(XmlRpcException.class).hasMessageStartingWith("malformed XML");
        assertThatThrownBy(() -> XmlRpc.readCall(call("<int>twelve</int>")))
                .isInstanceOf(XmlRpcException.class).hasMessage("not an integer: 'twelve'");
        assertThatThrownBy(() -> XmlRpc.readCall(call("<boolean>yes</boolean>")))
                .isInstanceOf(XmlRpcException.class).hasMessage("not a boolean (0 or 1): 'yes'");
        assertThatThrownBy(() -> XmlRpc.readCall(call("<object/>")))
                .isInstanceOf(XmlRpcException.class).hasMessage("unknown type <object>");
    }

    /** Random mutations of valid calls: each is read or refused with an XmlRpcException, nothing else. */
    @Test
    void randomMutationsNeverThrowAnythingButAFault() throws Exception {
        List<byte[]> seeds = List.of(
                call("<int>1</int>"), call("<string>a&amp;b</string>"), call("<struct><member><name>k</name><value>"
                        + "<array><data><value><double>1.5</double></value><value><nil/></value></data></array></value></member></struct>"),
                call("<base64>AAEC</base64>"), call("<dateTime.iso8601>20260101T10:00:00</dateTime.iso8601>"),
                call("<boolean>1</boolean>"));
        String[] fragments = {"<", ">", "</value>", "<value>", "<struct>", "<array>", "<data>", "&", "&#0;", "&#xD800;",
                "<!DOCTYPE x>", "<![CDATA[", "]]>", "\u0000", "\uFFFF", "<?x?>", "<!--", "-->", "'", "\"", "<nil/>", "<i8>9999999999999999999</i8>"};
        Random random = new Random(20261126);
        int read = 0, refused = 0;
        for (int i = 0; i < 5000; i++) {
            byte[] seed = seeds.get(random.nextInt(seeds.size()));
            List<Byte> bytes = new ArrayList<>();
            for (byte b : seed) {
                bytes.add(b);
            }
            for (int m = 1 + random.nextInt(4); m > 0; m--) {
                int at = random.nextInt(bytes.size() + 1);
                switch (random.nextInt(4)) {
                    case 0 -> { if (at < bytes.size()) bytes.remove(at); }
                    case 1 -> bytes.add(at, (byte) random.nextInt(256));
                    case 2 -> {
                        byte[] fragment = fragments[random.nextInt(fragments.length)].getBytes(StandardCharsets.UTF_8);
                        for (int f = fragment.length - 1; f >= 0; f--) {
                            bytes.add(at, fragment[f]);
                        }
                    }
                    default -> bytes.subList(Math.min(at, bytes.size()), bytes.size()).clear();
                }
            }
            byte[] mutated = new byte[bytes.size()];
            for (int b = 0; b < mutated.length; b++) {
                mutated[b] = bytes.get(b);
            }
            try {
                XmlRpc.readCall(mutated);
                read++;
            } catch (XmlRpcException expected) {
                refused++;
            }
        }
        assertThat(read + refused).isEqualTo(5000);
        assertThat(refused).as("most mutations break the call").isGreaterThan(2500);
        assertThat(read).as("some leave it readable").isPositive();
    }

    private static byte[] call(String value) {
        return ("<?xml version='1.0'?><methodCall><methodName>m</methodName><params><param><value>" + value
                + "</value></param></params></methodCall>").getBytes(StandardCharsets.UTF_8);
    }

    /** Runs {@code script} with python3, {@code input} on its standard input; returns its standard output. */
    private static String python(String script, String input) throws IOException, InterruptedException {
        Process process = new ProcessBuilder("python3", "-c", script).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try (var in = process.getOutputStream()) {
            in.write(input.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as("python3 exit code; output: " + out).isZero();
        return out;
    }
}
