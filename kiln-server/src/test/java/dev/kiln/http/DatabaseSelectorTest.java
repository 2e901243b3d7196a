package dev.kiln.http;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class DatabaseSelectorTest {

    private static final List<String> DATABASES = List.of("acme", "acme_test", "shop", "www");

    @Test
    void withoutAFilterEveryDatabaseIsVisibleAndOneIsChosenOnlyWhenAsked() {
        DatabaseSelector selector = new DatabaseSelector(null, () -> DATABASES);
        assertThat(selector.visible("anything")).isEqualTo(DATABASES);
        assertThat(selector.select("anything", null)).isEmpty();
        assertThat(selector.select("anything", "shop")).contains("shop");
        assertThat(selector.select("anything", "missing")).isEmpty();
    }

    @Test
    void theSessionsDatabaseComesFirstWhenTheFilterLetsItThrough() {
        DatabaseSelector selector = new DatabaseSelector("^%d", () -> DATABASES);
        assertThat(selector.select("acme.example.com", "acme_test", "acme")).contains("acme_test");
        assertThat(selector.select("acme.example.com", "shop", "acme")).as("session db filtered out: the header decides")
                .contains("acme");
        assertThat(selector.select("acme.example.com", "gone", null)).as("a dropped session db is ignored").isEmpty();
    }

    @Test
    void theSingleVisibleDatabaseIsChosenWhenNoneIsAsked() {
        DatabaseSelector selector = new DatabaseSelector(null, () -> List.of("only"));
        assertThat(selector.select("localhost:8069", null)).contains("only");
    }

    @Test
    void percentDIsTheFirstLabelOfTheHostWithoutWwwAndPort() {
        DatabaseSelector selector = new DatabaseSelector("^%d$", () -> DATABASES);
        assertThat(selector.visible("acme.example.com")).containsExactly("acme");
        assertThat(selector.visible("www.shop.example.com:8069")).containsExactly("shop");
        assertThat(selector.select("acme.example.com", null)).contains("acme");
        assertThat(selector.select("acme.example.com", "shop")).as("asked for, but filtered out").isEmpty();
    }

    @Test
    void theFilterIsAnchoredAtTheStartOnlyAsOdoosRegexMatch() {
        DatabaseSelector selector = new DatabaseSelector("%d", () -> DATABASES);
        assertThat(selector.visible("acme.example.com")).containsExactly("acme", "acme_test");
        assertThat(new DatabaseSelector("test", () -> DATABASES).visible("x")).isEmpty();
    }

    @Test
    void percentHIsTheWholeHostAndItsDotsAreLiteral() {
        List<String> databases = List.of("shop.example.com", "shopXexampleYcom");
        DatabaseSelector selector = new DatabaseSelector("%h$", () -> databases);
        assertThat(selector.visible("www.shop.example.com:443")).containsExactly("shop.example.com");
    }
}
