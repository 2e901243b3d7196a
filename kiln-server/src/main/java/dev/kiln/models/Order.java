package dev.kiln.models;

import dev.kiln.api.Field;
import dev.kiln.api.RpcFault;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A search's order, Odoo's syntax: comma-separated terms {@code field [asc|desc] [nulls first|nulls
 * last]}. Parsed against the model's fields: the SQL is built from the declared names and fixed
 * words only, so nothing of the text given reaches SQL.
 */
public record Order(List<Term> terms) {

    /** One term; {@code descending} and {@code nulls} as given (null: PostgreSQL's default). */
    public record Term(String field, boolean descending, String nulls) { }

    private static final Pattern TERM = Pattern.compile(
            "\\s*([a-z0-9_]+)(?:\\s+(asc|desc))?(?:\\s+nulls\\s+(first|last))?\\s*", Pattern.CASE_INSENSITIVE);
    private static final int MAX_LENGTH = 1_000;

    public Order {
        terms = List.copyOf(terms);
    }

    /** {@code text} parsed and checked against {@code model}; a user error or ValueError in Odoo's wording. */
    public static Order parse(String text, Model model) {
        return parse(text, model.name(), model.fields());
    }

    /** {@code text} checked against {@code fields}, the fields of model {@code modelName}. */
    static Order parse(String text, String modelName, java.util.Map<String, Field> fields) {
        if (text.length() > MAX_LENGTH) {
            throw invalid(text.substring(0, 80) + "…");
        }
        List<Term> terms = new ArrayList<>();
        for (String part : text.split(",", -1)) {
            Matcher term = TERM.matcher(part);
            if (!term.matches()) {
                throw invalid(text);
            }
            String field = term.group(1).toLowerCase(Locale.ROOT);
            Field declared = fields.get(field);
            if (declared == null) {
                throw RpcFault.invalidValue("Invalid field '" + field + "' on model '" + modelName + "'");
            }
            if (!declared.stored() || declared.type() == Field.Type.PASSWORD) {
                throw RpcFault.invalidValue("Cannot convert " + modelName + "." + field + " to SQL because it is not stored");
            }
            String direction = term.group(2);
            String nulls = term.group(3);
            terms.add(new Term(field, direction != null && direction.equalsIgnoreCase("desc"),
                    nulls == null ? null : nulls.toLowerCase(Locale.ROOT)));
        }
        return new Order(terms);
    }

    private static RpcFault invalid(String text) {
        return RpcFault.userError("Invalid \"order\" specified (" + text + "). A valid \"order\" specification is a"
                + " comma-separated list of valid field names (optionally followed by asc/desc for the direction)");
    }

    /** The ORDER BY list for {@code model}'s rows under {@code alias}, ending on id for a stable order. */
    String sql(Model model, String alias, Models models) {
        List<String> parts = new ArrayList<>();
        boolean byId = false;
        for (Term term : terms) {
            String expression = expression(model, term.field(), alias, models);
            byId |= term.field().equals("id");
            parts.add(expression + (term.descending() ? " DESC" : " ASC")
                    + (term.nulls() == null ? "" : " NULLS " + term.nulls().toUpperCase(Locale.ROOT)));
        }
        if (!byId) {
            parts.add(alias + ".id ASC");
        }
        return String.join(", ", parts);
    }

    private static String expression(Model model, String name, String alias, Models models) {
        if (name.equals("display_name")) {
            return model.recName() == null ? alias + ".id" : expression(model, model.recName(), alias, models);
        }
        Field field = model.require(name);
        return switch (field.type()) {
            case BOOLEAN -> "COALESCE(" + alias + "." + name + ", false)";
            case MANY2ONE -> {
                Model comodel = models.require(field.comodel());
                yield comodel.recName() == null || comodel.name().equals(model.name()) && comodel.recName().equals(name)
                        ? alias + "." + name
                        : "(SELECT o." + comodel.recName() + " FROM " + comodel.table() + " o WHERE o.id = " + alias + "." + name + ")";
            }
            default -> alias + "." + name;
        };
    }
}
