package dev.kiln.registry;

import dev.kiln.failure.KilnException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MigrationTest {

    @TempDir
    Path addon;

    private void script(String name, String sql) throws IOException {
        Files.createDirectories(addon.resolve("migrations"));
        Files.writeString(addon.resolve("migrations").resolve(name), sql);
    }

    @Test
    void scriptsComeInVersionOrderComparedPartByPartAsNumbers() throws IOException {
        script("V1_10__later.sql", "SELECT 3");
        script("V1_2__sooner.sql", "SELECT 2");
        script("V1__first.sql", "SELECT 1");
        script("V2__last.sql", "SELECT 4");
        script("notes.txt", "not a script");

        assertThat(Migration.of("shop", addon)).extracting(Migration::version).containsExactly("1", "1.2", "1.10", "2");
    }

    @Test
    void anAddonWithoutMigrationsHasNone() {
        assertThat(Migration.of("shop", addon)).isEmpty();
    }

    @Test
    void aBadlyNamedScriptIsRefusedNamingTheFileAndTheRule() throws IOException {
        script("create_tables.sql", "SELECT 1");
        assertThatThrownBy(() -> Migration.of("shop", addon)).isInstanceOf(KilnException.class)
                .hasMessageContaining("addon 'shop'").hasMessageContaining("create_tables.sql")
                .hasMessageContaining("V<version>__<description>.sql");
    }

    @Test
    void twoScriptsOfTheSameVersionAreRefused() throws IOException {
        script("V1__a.sql", "SELECT 1");
        script("V1_0__b.sql", "SELECT 2");      // 1.0 is 1, as in Flyway
        assertThatThrownBy(() -> Migration.of("shop", addon)).hasMessageContaining("have the same version");
    }

    @Test
    void theChecksumFollowsTheContent() throws IOException {
        script("V1__a.sql", "SELECT 1");
        String before = Migration.of("shop", addon).getFirst().checksum();
        script("V1__a.sql", "SELECT 2");
        assertThat(Migration.of("shop", addon).getFirst().checksum()).isNotEqualTo(before);
    }
}
