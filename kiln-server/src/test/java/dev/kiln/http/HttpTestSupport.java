package dev.kiln.http;

import dev.kiln.addons.AddonLoader;
import dev.kiln.addons.LoadedAddons;
import java.util.List;

/** The bundled addons (from dist/addons) served by a test server. */
final class HttpTestSupport {

    private HttpTestSupport() { }

    static TestServer bundled(HttpOptions options) {
        LoadedAddons addons = AddonLoader.loadServerWide(List.of(), List.of("base", "web", "hello"));
        return new TestServer(addons, options);
    }

    static HttpOptions quiet() {
        return HttpOptions.defaults();
    }
}
