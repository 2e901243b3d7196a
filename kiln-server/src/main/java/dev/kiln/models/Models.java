package dev.kiln.models;

import dev.kiln.addons.LoadedAddon;
import dev.kiln.api.Field;
import dev.kiln.api.ModelSpec;
import dev.kiln.api.RpcCall;
import dev.kiln.api.RpcFault;
import dev.kiln.failure.KilnException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The models of one database: every model the installed addons declare, merged with their
 * extensions in load order. Built with the database's registry and shared by every call on it.
 */
public final class Models {

    private static final Logger LOG = LoggerFactory.getLogger(Models.class);

    private final Map<String, Model> models;

    private Models(Map<String, Model> models) {
        this.models = models;
    }

    /**
     * The models of {@code addons} (in dependency order).
     *
     * @throws KilnException when a model is declared twice, extended before it is declared, or a
     *                       relational field points to no model
     */
    public static Models of(List<LoadedAddon> addons) {
        return of(addons, List.of());
    }

    /**
     * The models of {@code addons} (in dependency order), then the database's custom models and
     * fields ({@link CustomModels}). A custom one whose name an addon declares since is left out,
     * with a warning: the addon's declaration wins.
     */
    public static Models of(List<LoadedAddon> addons, List<ModelSpec> custom) {
        Map<String, Draft> drafts = new LinkedHashMap<>();
        for (LoadedAddon addon : addons) {
            for (ModelSpec spec : addon.models()) {
                Draft draft = drafts.get(spec.name());
                if (!spec.isExtension()) {
                    if (draft != null) {
                        throw KilnException.failure("model '" + spec.name() + "' is declared by both addon '" + draft.addon
                                + "' and addon '" + addon.name() + "'; the second may extend it (ModelSpec.extend)");
                    }
                    draft = new Draft(spec, addon.name());
                    drafts.put(spec.name(), draft);
                } else if (draft == null) {
                    throw KilnException.failure("addon '" + addon.name() + "' extends model '" + spec.name()
                            + "', which no addon it depends on declares");
                }
                draft.add(spec, addon.name(), addon.classLoader());
            }
        }
        for (ModelSpec spec : custom) {
            Draft draft = drafts.get(spec.name());
            if (!spec.isExtension() && draft != null || spec.isExtension() && (draft == null || draft.isAbstract())) {
                LOG.warn("custom model {} is left out: {}", spec.name(), draft == null ? "the model is gone"
                        : "addon '" + draft.addon + "' declares a model of that name");
                continue;
            }
            if (draft == null) {
                draft = new Draft(spec, CustomModels.ADDON);
                drafts.put(spec.name(), draft);
            }
            ModelSpec kept = spec.isExtension() ? ModelSpec.extend(spec.name()) : spec;
            if (spec.isExtension()) {
                for (Field field : spec.fields().values()) {
                    if (draft.fields.containsKey(field.name())) {
                        LOG.warn("custom field {}.{} is left out: an addon declares a field of that name", spec.name(),
                                field.name());
                    } else {
                        kept.field(field);
                    }
                }
            }
            draft.add(kept, CustomModels.ADDON, null);
        }
        leaveOutDanglingCustomFields(drafts, custom);
        Models result = new Models(new LinkedHashMap<>());
        for (Draft draft : drafts.values()) {
            result.models.put(draft.name, draft.build(result));
        }
        for (Model model : result.models.values()) {
            for (Field field : model.fields().values()) {
                if (field.type().relational() && !result.models.containsKey(field.comodel())) {
                    throw KilnException.failure("model '" + model.name() + "': field " + field.name() + " points to model '"
                            + field.comodel() + "', which no installed addon declares");
                }
                if (field.type() == Field.Type.ONE2MANY) {
                    Field inverse = result.models.get(field.comodel()).fields().get(field.inverse());
                    if (inverse == null || inverse.type() != Field.Type.MANY2ONE || !model.name().equals(inverse.comodel())) {
                        throw KilnException.failure("model '" + model.name() + "': one2many " + field.name() + " needs a many2one "
                                + field.inverse() + " to " + model.name() + " on " + field.comodel());
                    }
                }
            }
        }
        return result;
    }

    /**
     * A custom relational field whose comodel (or one2many's inverse) is gone is left out, with a
     * warning: what an addon's removal left behind must not keep the database from being served.
     */
    private static void leaveOutDanglingCustomFields(Map<String, Draft> drafts, List<ModelSpec> custom) {
        for (ModelSpec spec : custom) {
            Draft draft = drafts.get(spec.name());
            for (Field field : spec.fields().values()) {
                if (draft == null || draft.fields.get(field.name()) != field || !field.type().relational()) {
                    continue;
                }
                Draft comodel = drafts.get(field.comodel());
                Field inverse = comodel == null || field.type() != Field.Type.ONE2MANY ? null : comodel.fields.get(field.inverse());
                boolean dangling = comodel == null || comodel.isAbstract() || field.type() == Field.Type.ONE2MANY
                        && (inverse == null || inverse.type() != Field.Type.MANY2ONE || !spec.name().equals(inverse.comodel()));
                if (dangling) {
                    LOG.warn("custom field {}.{} is left out: model {} (or its field {}) is gone", spec.name(), field.name(),
                            field.comodel(), field.inverse());
                    draft.fields.remove(field.name());
                }
            }
        }
    }

    public Optional<Model> get(String name) {
        return Optional.ofNullable(models.get(name));
    }

    public Collection<Model> all() {
        return models.values();
    }

    /** The model, or Odoo's error for a name no installed addon declares. */
    public Model require(String name) {
        Model model = models.get(name);
        if (model == null) {
            throw new RpcFault(RpcFault.Kind.UNKNOWN_MODEL, "Object " + name + " doesn't exist");   // Odoo's words
        }
        return model;
    }

    /** The standard methods that only read (Odoo's {@code @api.readonly}): a replica may run them. */
    private static final java.util.Set<String> READ_ONLY = java.util.Set.of("search", "search_count", "search_read", "read",
            "fields_get", "name_search", "name_get", "default_get", "check_access_rights", "check_access_rule", "has_access");

    /** Whether {@code method} is one of the standard methods that only read. */
    public static boolean readsOnly(String method) {
        return READ_ONLY.contains(method);
    }

    /** Whether {@code method} of {@code model} may change what a user logs in with (their password, login, being active). */
    public static boolean changesCredentials(String model, String method) {
        return model.equals("res.users") && (method.equals("write") || method.equals("unlink"));
    }

    /** A many2many's relation table columns: this model's id, the comodel's id ({@code <table>_id} each). */
    static String[] relationColumns(Model model, Field field) {
        return relationColumns(model.table(), field);
    }

    static String[] relationColumns(String table, Field field) {
        String comodelTable = field.comodel().replace('.', '_');
        String own = table + "_id";
        String other = comodelTable + "_id";
        return own.equals(other) ? new String[] {own, "related_" + other} : new String[] {own, other};
    }

    /** One model being merged from its declaration and extensions. */
    private static final class Draft {
        final String name;
        final String addon;
        final String table;
        String description;
        String order;
        String recName;
        final Map<String, Field> fields = new LinkedHashMap<>();
        final List<ModelSpec.Access> access = new ArrayList<>();
        final List<ModelSpec.Rule> rules = new ArrayList<>();
        final Map<String, Model.Invocable> methods = new LinkedHashMap<>();
        final List<Map.Entry<ModelSpec, ClassLoader>> overrides = new ArrayList<>();

        Draft(ModelSpec spec, String addon) {
            this.name = spec.name();
            this.addon = addon;
            this.table = spec.table();
        }

        boolean isAbstract() {
            return table == null;
        }

        void add(ModelSpec spec, String addon, ClassLoader loader) {
            if (spec.description() != null) {
                description = spec.description();
            }
            if (spec.order() != null) {
                order = spec.order();
            }
            if (spec.recName() != null) {
                recName = spec.recName();
            }
            if (isAbstract() && !spec.fields().isEmpty()) {
                throw KilnException.failure("model '" + name + "' is abstract: addon '" + addon + "' cannot give it fields");
            }
            for (Field field : spec.fields().values()) {
                if (fields.putIfAbsent(field.name(), field) != null) {
                    throw KilnException.failure("model '" + name + "': addon '" + addon + "' declares field "
                            + field.name() + " again");
                }
            }
            access.addAll(spec.access());
            rules.addAll(spec.rules());
            spec.methods().forEach((method, code) -> {
                if (ModelMethods.NAMES.contains(method) || methods.containsKey(method)) {
                    throw KilnException.failure("model '" + name + "': addon '" + addon + "' declares method " + method
                            + ", which exists already; override it (ModelSpec.override)");
                }
                methods.put(method, new Model.Invocable(code, loader));
            });
            overrides.add(Map.entry(spec, loader == null ? ClassLoader.getSystemClassLoader() : loader));
        }

        Model build(Models models) {
            if (isAbstract()) {
                Map<String, Model.Invocable> chain = new LinkedHashMap<>(methods);
                applyOverrides(chain);
                return new Model(name, null, description == null ? name : description, addon, Map.of(), new Order(List.of()),
                        null, access, rules, chain);
            }
            Map<String, Field> all = new LinkedHashMap<>();
            all.put("id", Field.integer("id").string("ID").readonly());
            all.putAll(fields);
            String rec = recName != null ? recName : fields.containsKey("name") ? "name" : null;
            if (rec != null && !fields.containsKey(rec)) {
                throw KilnException.failure("model '" + name + "': recName " + rec + " is not one of its fields");
            }
            all.put("display_name", Field.chars("display_name").string("Display Name").readonly());
            all.put("create_uid", Field.many2one("create_uid", "res.users").string("Created by").readonly());
            all.put("create_date", Field.datetime("create_date").string("Created on").readonly());
            all.put("write_uid", Field.many2one("write_uid", "res.users").string("Last Updated by").readonly());
            all.put("write_date", Field.datetime("write_date").string("Last Updated on").readonly());
            Map<String, Model.Invocable> chain = new LinkedHashMap<>();
            for (String standard : ModelMethods.NAMES) {       // on the model as built (below), found by name
                ModelSpec.Method method = call -> ModelMethods.run(models, models.require(name), standard, call);
                chain.put(standard, new Model.Invocable(CustomModels.catalogue(models, name, standard, method), null));
            }
            chain.putAll(methods);
            applyOverrides(chain);
            Order parsed = order == null ? new Order(List.of(new Order.Term("id", false, null)))
                    : Order.parse(order, name, all);
            return new Model(name, table, description == null ? name : description, addon, all, parsed, rec, access, rules,
                    chain);
        }

        /** Each addon's overrides in load order, each wrapping the method it replaces (run with that one's class loader). */
        private void applyOverrides(Map<String, Model.Invocable> chain) {
            for (Map.Entry<ModelSpec, ClassLoader> extension : overrides) {
                extension.getKey().overrides().forEach((method, override) -> {
                    Model.Invocable next = chain.get(method);
                    if (next == null) {
                        throw KilnException.failure("model '" + name + "': override of " + method + ", which it does not have");
                    }
                    ModelSpec.Method callNext = next::invoke;
                    chain.put(method, new Model.Invocable(call -> override.call(call, callNext), extension.getValue()));
                });
            }
        }
    }
}
