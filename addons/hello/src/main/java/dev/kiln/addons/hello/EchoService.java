package dev.kiln.addons.hello;

import dev.kiln.api.RpcCall;
import dev.kiln.api.RpcFault;

import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code hello.echo} on the external API: {@code echo} answers its arguments as they arrived,
 * {@code types} one value of every type the API carries, {@code warn} and {@code fail} the two
 * kinds of fault (Odoo's code 2, and code 1 from an unexpected exception), {@code whoami} the
 * caller and the database.
 */
public final class EchoService {

    /** {"args": [...], "kwargs": {...}}, unchanged. */
    public Map<String, Object> echo(RpcCall call) {
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("args", call.args());
        answer.put("kwargs", call.kwargs());
        return answer;
    }

    public Map<String, Object> types(RpcCall call) {
        Map<String, Object> all = new LinkedHashMap<>();
        all.put("int", 42);
        all.put("long", 9_000_000_000L);
        all.put("double", 2.5);
        all.put("bool", true);
        all.put("string", "héllo <&>");
        all.put("bytes", "aGVsbG8=".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        all.put("date", LocalDate.of(2026, 11, 26));
        all.put("datetime", LocalDateTime.of(2026, 11, 26, 22, 30, 0));
        all.put("none", null);
        all.put("list", List.of(1, "two", List.of()));
        all.put("struct", Map.of("nested", Map.of()));
        return all;
    }

    public Object warn(RpcCall call) {
        throw RpcFault.userError("a warning from hello.echo");
    }

    public Object fail(RpcCall call) {
        throw new IllegalStateException("hello.echo failed on purpose");
    }

    public Map<String, Object> whoami(RpcCall call) {
        return Map.of("uid", call.uid(), "db", call.env().database());
    }
}
