package dev.kiln.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class StaticFilesTest {

    @TempDir
    static Path root;
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = new TestServer(ProbeAddon.load(root), HttpOptions.defaults());
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    @Test
    void staticFileIsServedWithValidatorsAndCacheHeaders() {
        HttpResponse<String> response = server.get("/probe/static/src/a.txt");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("static a");
        assertThat(response.headers().firstValue("ETag")).isPresent();
        assertThat(response.headers().firstValue("Last-Modified")).isPresent();
        assertThat(response.headers().firstValue("Cache-Control")).hasValue("public, max-age=604800");
    }

    @Test
    void largeFileIsStreamedWhole() {
        HttpResponse<String> response = server.get("/probe/static/src/big.bin");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Length")).hasValue(String.valueOf(600 * 1024));
        assertThat(response.body()).hasSize(600 * 1024);
    }

    @Test
    void matchingEtagAnswersNotModified() {
        String etag = server.get("/probe/static/src/a.txt").headers().firstValue("ETag").orElseThrow();
        HttpResponse<String> again = server.get("/probe/static/src/a.txt", "If-None-Match", etag);
        assertThat(again.statusCode()).isEqualTo(304);
        assertThat(again.body()).isEmpty();
        assertThat(server.get("/probe/static/src/a.txt", "If-None-Match", "\"other\"").statusCode()).isEqualTo(200);
    }

    @Test
    void unchangedSinceLastModifiedAnswersNotModified() {
        String modified = server.get("/probe/static/src/a.txt").headers().firstValue("Last-Modified").orElseThrow();
        assertThat(server.get("/probe/static/src/a.txt", "If-Modified-Since", modified).statusCode()).isEqualTo(304);
        assertThat(server.get("/probe/static/src/a.txt", "If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT").statusCode())
                .isEqualTo(200);
    }

    @Test
    void contentTypeFollowsTheExtension() {
        assertThat(server.get("/probe/static/src/style.css").headers().firstValue("Content-Type")).hasValue("text/css; charset=utf-8");
        assertThat(server.get("/probe/static/src/app.js").headers().firstValue("Content-Type").orElseThrow()).contains("javascript");
        assertThat(server.get("/probe/static/src/logo.png").headers().firstValue("Content-Type")).hasValue("image/png");
    }

    @Test
    void missingFileAndUnknownAddonAreNotFound() {
        assertThat(server.get("/probe/static/src/nope.txt").statusCode()).isEqualTo(404);
        assertThat(server.get("/nobody/static/a.txt").statusCode()).isEqualTo(404);
        assertThat(server.get("/probe/static/src").statusCode()).isEqualTo(404);
    }

    @Test
    void symlinkLeavingTheStaticFolderIsNotFound() {
        assertThat(server.get("/probe/static/src/escape.txt").statusCode()).isEqualTo(404);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "/probe/static/../secret.txt",
        "/probe/static/src/../../secret.txt",
        "/probe/static/%2e%2e/secret.txt",
        "/probe/static/%2E%2E/secret.txt",
        "/probe/static/src/%2e%2e/%2e%2e/secret.txt",
        "/probe/static/..%2fsecret.txt",
        "/probe/static/..%2Fsecret.txt",
        "/probe/static/..%5csecret.txt",
        "/probe/static/..\\secret.txt",
        "/probe/static//etc/passwd",
        "/probe/static/%2fetc/passwd",
        "/probe/static/src/./a.txt",
        "/probe/static/%252e%252e/secret.txt",
        "/probe/static/src/a.txt;x=..",
    })
    void traversalAttemptsAreNotFound(String target) {
        assertThat(server.rawGet(target)).startsWith("HTTP/1.1 404");
    }

    @Test
    void encodedNulByteIsRefusedByTheParser() {
        // Jetty refuses %00 in a path before Kiln sees it; what matters is that nothing is served
        assertThat(server.rawGet("/probe/static/src/a.txt%00.png")).matches("HTTP/1.1 40[04] .*");
    }

    @Test
    void rawRequestForARealFileStillWorks() {
        assertThat(server.rawGet("/probe/static/src/a.txt")).isEqualTo("HTTP/1.1 200 OK");
    }

    @Test
    void staticFilesAnswerOnlyGetAndHead() {
        HttpResponse<String> post = server.post("/probe/static/src/a.txt", "text/plain", "x");
        assertThat(post.statusCode()).isEqualTo(405);
        assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
    }
}
