package dev.kiln.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.addons.RouteSpec;
import dev.kiln.api.Route;
import dev.kiln.failure.KilnException;
import java.util.List;
import org.junit.jupiter.api.Test;

class RouterTest {

    private static RouteSpec route(String path, String... methods) {
        return new RouteSpec("test", path, Route.Type.HTTP, Route.Auth.NONE, List.of(methods), true, false, r -> null, path);
    }

    private final Router router = new Router(List.of(
            route("/hello", "GET"),
            route("/hello", "POST"),
            route("/order/<int:id>", "GET"),
            route("/order/new", "GET"),
            route("/shop/<name>"),
            route("/files/<path:rest>", "GET"),
            route("/shop/<name>/edit", "PUT")));

    @Test
    void exactPathsAreFoundByMethod() {
        assertThat(router.exact("/hello").select("GET").methods()).containsExactly("GET");
        assertThat(router.exact("/hello").select("POST").methods()).containsExactly("POST");
        assertThat(router.exact("/hello").select("HEAD").methods()).containsExactly("GET");
    }

    @Test
    void intConverterTakesDigitsOnlyAndOtherwiseIsNotFound() {
        Router.Result found = router.resolve("/order/42", "GET");
        assertThat(found.match().params()).containsEntry("id", "42");
        assertThat(router.resolve("/order/abc", "GET")).isEqualTo(Router.Result.NOT_FOUND);
        assertThat(router.resolve("/order/-1", "GET")).isEqualTo(Router.Result.NOT_FOUND);
    }

    @Test
    void literalPathsWinOverParameters() {
        assertThat(router.resolve("/order/new", "GET").match().route().path()).isEqualTo("/order/new");
    }

    @Test
    void stringAndPathParametersAreCaptured() {
        assertThat(router.resolve("/shop/pots", "DELETE").match().params()).containsEntry("name", "pots");
        assertThat(router.resolve("/files/a/b/c.txt", "GET").match().params()).containsEntry("rest", "a/b/c.txt");
        assertThat(router.resolve("/shop/pots/edit", "PUT").match().params()).containsEntry("name", "pots");
    }

    @Test
    void unknownPathsAndTrailingSegmentsAreNotFound() {
        assertThat(router.resolve("/nothing", "GET")).isEqualTo(Router.Result.NOT_FOUND);
        assertThat(router.resolve("/shop/", "GET")).isEqualTo(Router.Result.NOT_FOUND);
        assertThat(router.resolve("/shop/a/b", "GET")).isEqualTo(Router.Result.NOT_FOUND);
        assertThat(router.resolve("/files/", "GET")).isEqualTo(Router.Result.NOT_FOUND);
    }

    @Test
    void wrongMethodListsTheAllowedOnes() {
        assertThat(router.resolve("/hello", "DELETE").allow()).isEqualTo("GET, HEAD, POST");
        assertThat(router.resolve("/shop/pots/edit", "GET").allow()).isEqualTo("PUT");
    }

    @Test
    void unknownConverterIsRefusedAtStart() {
        assertThatThrownBy(() -> new Router(List.of(route("/x/<float:f>"))))
                .isInstanceOf(KilnException.class).hasMessageContaining("float").hasMessageContaining("'test'");
    }

    private static BuiltInRoute builtIn(String path, BuiltInRoute.Claim claim, String... methods) {
        return new BuiltInRoute(path, claim, List.of(methods), Failures.Format.JSON_RPC, request -> Outcome.page(204));
    }

    private static boolean isBuiltIn(Router.Result result) {
        return result.match().route().handler() instanceof BuiltInRoute.Handler;
    }

    @Test
    void aBuiltInPathIsKilnsWhateverAnAddonRegistersThere() {
        Router withBuiltIns = new Router(List.of(builtIn("/jsonrpc", BuiltInRoute.Claim.PATH, "POST")),
                List.of(route("/jsonrpc", "GET", "POST"), route("/<name>", "GET")));
        assertThat(isBuiltIn(withBuiltIns.resolve("/jsonrpc", "POST"))).isTrue();
        Router.Result get = withBuiltIns.resolve("/jsonrpc", "GET");
        assertThat(get.match()).as("neither the addon's route on the path nor its pattern").isNull();
        assertThat(get.allow()).isEqualTo("POST");
    }

    @Test
    void aBuiltInPrefixOwnsEveryPathUnderIt() {
        Router withBuiltIns = new Router(List.of(builtIn("/web/database/", BuiltInRoute.Claim.PREFIX)),
                List.of(route("/web/database/list", "GET"), route("/web/<page>", "GET")));
        assertThat(isBuiltIn(withBuiltIns.resolve("/web/database/list", "GET"))).isTrue();
        assertThat(isBuiltIn(withBuiltIns.resolve("/web/database/anything/else", "DELETE"))).isTrue();
        assertThat(isBuiltIn(withBuiltIns.resolve("/web/databases", "GET"))).isFalse();
    }

    @Test
    void aFallbackBuiltInYieldsToAnAddonsRouteOnItsPath() {
        BuiltInRoute login = builtIn("/web/login", BuiltInRoute.Claim.FALLBACK, "GET", "POST");
        assertThat(isBuiltIn(new Router(List.of(login), List.of()).resolve("/web/login", "GET"))).isTrue();
        assertThat(new Router(List.of(login), List.of()).resolve("/web/login", "PUT").allow()).isEqualTo("GET, HEAD, POST");
        assertThat(isBuiltIn(new Router(List.of(login), List.of(route("/web/login", "GET"))).resolve("/web/login", "GET")))
                .isFalse();
    }

    @Test
    void anExactPathIsFoundWithoutAllocatingAResult() {
        assertThat(router.resolve("/hello", "GET")).isSameAs(router.resolve("/hello", "GET"));
        assertThat(router.resolve("/hello", "HEAD")).isSameAs(router.resolve("/hello", "GET"));
    }
}
