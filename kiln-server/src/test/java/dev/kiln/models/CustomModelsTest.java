package dev.kiln.models;

import dev.kiln.addons.LoadedAddon;
import dev.kiln.addons.Manifest;
import dev.kiln.api.Field;
import dev.kiln.api.ModelSpec;
import dev.kiln.api.RpcFault;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** How custom models and fields merge with what addons declare: what an addon declares wins, and nothing dangling stays. */
class CustomModelsTest {

    private static final List<LoadedAddon> ADDONS = List.of(addon(List.of(
            ModelSpec.of("res.users").field(Field.chars("login")),
            ModelSpec.of("res.partner").field(Field.chars("name")).field(Field.chars("x_declared")))));

    private static LoadedAddon addon(List<ModelSpec> specs) {
        Manifest manifest = new Manifest("base", "base", "1.0", "", List.of(), false, "LGPL-3", null, Path.of("base"));
        return new LoadedAddon(manifest, null, null, Optional.empty(), List.of(), specs);
    }

    @Test
    void customModelsAndFieldsJoinTheDeclaredOnes() {
        Models models = Models.of(ADDONS, List.of(
                ModelSpec.of("x_book").access(CustomModels.MANAGER, "rwcu").field(Field.chars("x_name"))
                        .field(Field.many2one("x_author_id", "res.partner")).recName("x_name"),
                ModelSpec.extend("res.partner").field(Field.many2one("x_book_id", "x_book"))));
        assertThat(models.require("x_book").fields()).containsKeys("id", "x_name", "x_author_id", "create_uid", "display_name");
        assertThat(models.require("x_book").recName()).isEqualTo("x_name");
        assertThat(models.require("x_book").addon()).isEmpty();
        assertThat(models.require("res.partner").fields()).containsKeys("name", "x_declared", "x_book_id");
    }

    @Test
    void whatAnAddonDeclaresWinsAndWhatPointsNowhereIsLeftOut() {
        Field shadow = Field.integer("x_declared");
        Models models = Models.of(ADDONS, List.of(
                ModelSpec.of("res.users").field(Field.chars("x_other")),              // an addon declares the model
                ModelSpec.extend("res.partner").field(shadow)                          // ... and the field
                        .field(Field.many2one("x_gone_id", "x_gone"))                  // its comodel is gone
                        .field(Field.one2many("x_user_ids", "res.users", "x_partner_id")),   // no inverse
                ModelSpec.extend("x_gone").field(Field.chars("x_left"))));             // its model is gone
        assertThat(models.require("res.users").fields()).doesNotContainKey("x_other");
        assertThat(models.require("res.partner").fields().get("x_declared").type()).isEqualTo(Field.Type.CHAR);
        assertThat(models.require("res.partner").fields()).doesNotContainKeys("x_gone_id", "x_user_ids");
        assertThat(models.get("x_gone")).isEmpty();
    }

    @Test
    void aCatalogueRowOfATypeKilnDoesNotMakeIsTheCallersFault() {
        assertThat(CustomModels.field("x_book", "x_tags", "many2many", "Tags", null, "res.partner", null, false, false, true)
                .relationTable()).isEqualTo("x_book_x_tags_rel");
        assertThatThrownBy(() -> CustomModels.field("x_book", "x_ref", "reference", null, null, null, null, false, false, false))
                .isInstanceOf(RpcFault.class).hasMessageContaining("not 'reference'");
        assertThatThrownBy(() -> CustomModels.field("x_book", "x_" + "a".repeat(60) + "_ids", "many2many", null, null,
                "res.partner", null, false, false, false)).isInstanceOf(RpcFault.class).hasMessageContaining("relation table");
    }
}
