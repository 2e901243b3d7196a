package dev.kiln.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.addons.LoadedAddons;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class JsonRpcTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    static Path root;
    static TestServer server;
    static TestServer debugServer;

    @BeforeAll
    static void start() throws Exception {
        LoadedAddons addons = ProbeAddon.load(root);
        server = new TestServer(addons, HttpOptions.defaults().withMaxBodyBytes(1024));
        debugServer = new TestServer(addons, HttpOptions.defaults().withDebug(true));
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        debugServer.close();
    }

    private static JsonNode call(TestServer target, String path, String body) {
        HttpResponse<String> response = target.post(path, "application/json", body);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
        return JSON.readTree(response.body());
    }

    @Test
    void validCallReturnsTheResultWithTheSameId() {
        JsonNode answer = call(server, "/probe/echo", "{\"jsonrpc\":\"2.0\",\"method\":\"call\",\"params\":{\"x\":[1,2]},\"id\":42}");
        assertThat(answer.get("jsonrpc").stringValue()).isEqualTo("2.0");
        assertThat(answer.get("id").intValue()).isEqualTo(42);
        assertThat(answer.get("result").get("got").get("x").toString()).isEqualTo("[1,2]");
        assertThat(answer.has("error")).isFalse();
    }

    @Test
    void stringIdsAndMissingParamsAreAccepted() {
        JsonNode answer = call(server, "/probe/echo", "{\"jsonrpc\":\"2.0\",\"method\":\"call\",\"id\":\"abc\"}");
        assertThat(answer.get("id").stringValue()).isEqualTo("abc");
        assertThat(answer.get("result").get("got").size()).isZero();
    }

    @Test
    void malformedJsonIsAJsonRpcParseError() {
        HttpResponse<String> response = server.post("/probe/echo", "application/json", "{\"jsonrpc\": ");
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode answer = JSON.readTree(response.body());
        assertThat(answer.get("error").get("code").intValue()).isEqualTo(-32700);
        assertThat(answer.get("id").isNull()).isTrue();
    }

    @Test
    void nonObjectBodyIsAJsonRpcInvalidRequest() {
        assertThat(call(server, "/probe/echo", "[1,2,3]").get("error").get("code").intValue()).isEqualTo(-32600);
        assertThat(call(server, "/probe/echo", "\"text\"").get("error").get("code").intValue()).isEqualTo(-32600);
        assertThat(call(server, "/probe/echo", "").get("error").get("code").intValue()).isIn(-32700, -32600);
    }

    @Test
    void paramsThatAreNotAnObjectAreInvalidParams() {
        JsonNode answer = call(server, "/probe/echo", "{\"jsonrpc\":\"2.0\",\"params\":[1],\"id\":3}");
        assertThat(answer.get("error").get("code").intValue()).isEqualTo(-32602);
        assertThat(answer.get("id").intValue()).isEqualTo(3);
    }

    @Test
    void handlerFailureIsAServerErrorWithoutTraceByDefault() {
        JsonNode error = call(server, "/probe/json-fail", "{\"jsonrpc\":\"2.0\",\"params\":{},\"id\":1}").get("error");
        assertThat(error.get("code").intValue()).isEqualTo(0);
        assertThat(error.get("data").get("name").stringValue()).isEqualTo("java.lang.IllegalStateException");
        assertThat(error.get("data").get("message").stringValue()).isEqualTo("probe json failure");
        assertThat(error.get("data").get("arguments").get(0).stringValue()).isEqualTo("probe json failure");
        assertThat(error.get("data").has("debug")).isFalse();
        assertThat(error.get("data").has("addon")).isFalse();
        assertThat(error.toString()).doesNotContain("probe.Entry", "at java.");
    }

    @Test
    void handlerFailureCarriesTheTraceAndTheAddonInDebugModeInOdoosShape() {
        JsonNode error = call(debugServer, "/probe/json-fail", "{\"jsonrpc\":\"2.0\",\"params\":{},\"id\":1}").get("error");
        JsonNode data = error.get("data");
        assertThat(data.propertyNames()).containsExactly("name", "message", "arguments", "context", "debug", "addon");
        assertThat(data.get("name").stringValue()).isEqualTo("java.lang.IllegalStateException");
        assertThat(data.get("debug").stringValue()).contains("IllegalStateException: probe json failure", "probe.Entry.jsonFail(");
        assertThat(data.get("message").stringValue()).isEqualTo("probe json failure");
        assertThat(data.get("addon").stringValue()).isEqualTo("probe");
    }

    @Test
    void anErrorThatCannotBeDescribedIsAPlainServerError() {
        JsonNode error = call(debugServer, "/probe/json-fail-badly", "{\"jsonrpc\":\"2.0\",\"params\":{},\"id\":5}").get("error");
        assertThat(error.get("code").intValue()).isEqualTo(0);
        assertThat(error.get("data").has("debug")).isFalse();
        assertThat(error.get("data").get("message").stringValue()).isEqualTo("Odoo Server Error");
    }

    @Test
    void typedHttpExceptionKeepsItsStatusAsTheCode() {
        JsonNode error = call(server, "/probe/json-missing", "{\"jsonrpc\":\"2.0\",\"params\":{},\"id\":1}").get("error");
        assertThat(error.get("code").intValue()).isEqualTo(404);
        assertThat(error.get("data").get("message").stringValue()).isEqualTo("no such record");
    }

    @Test
    void bodyOverTheLimitIsRefusedWith413() {
        HttpResponse<String> response = server.post("/probe/echo", "application/json",
                "{\"params\":{\"x\":\"" + "a".repeat(4096) + "\"}}");
        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(JSON.readTree(response.body()).get("error").get("code").intValue()).isEqualTo(413);
    }

    @Test
    void aJsonRouteRefusesABodyNotSentAsJsonWith415InJson() {
        // what a cross-site HTML form can send with the victim's cookie
        for (String type : new String[] {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"}) {
            HttpResponse<String> response = server.post("/probe/echo", type, "{\"params\":{\"x\":1}}");
            assertThat(response.statusCode()).as(type).isEqualTo(415);
            assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
            assertThat(JSON.readTree(response.body()).get("error").get("code").intValue()).isEqualTo(415);
        }
    }

    @Test
    void odoosJsonMediaTypesAreAcceptedWithParametersAndInAnyCase() {
        for (String type : new String[] {"application/json; charset=utf-8", "Application/JSON", "application/json-rpc"}) {
            HttpResponse<String> response = server.post("/probe/echo", type, "{\"params\":{\"x\":1},\"id\":1}");
            assertThat(response.statusCode()).as(type).isEqualTo(200);
            assertThat(JSON.readTree(response.body()).get("result").get("got").get("x").intValue()).isEqualTo(1);
        }
    }
}
