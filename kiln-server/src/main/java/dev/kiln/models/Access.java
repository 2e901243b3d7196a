package dev.kiln.models;

import dev.kiln.api.ModelSpec;
import dev.kiln.api.RpcFault;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What one user may do, Odoo's rules: a model's operation is allowed when one of the user's
 * groups has it in the model's access list; its records are those every global rule and at least
 * one of the user's groups' rules select (a group without a rule for the operation restricts
 * nothing). The superuser (uid 1) passes everything.
 */
final class Access {

    static final long SUPERUSER = 1;

    private final long uid;
    private final Set<String> groups;
    private final String userName;

    private Access(long uid, Set<String> groups, String userName) {
        this.uid = uid;
        this.groups = groups;
        this.userName = userName;
    }

    /** The groups (full names) and name of {@code uid}, read in the call's transaction. */
    static Access of(Connection connection, long uid) throws SQLException {
        Set<String> groups = new HashSet<>();
        String name = "";
        try (PreparedStatement query = connection.prepareStatement("""
                SELECT u.name, g.xml_id FROM res_users u
                LEFT JOIN res_groups_users_rel r ON r.res_users_id = u.id
                LEFT JOIN res_groups g ON g.id = r.res_groups_id
                WHERE u.id = ?""")) {
            query.setLong(1, uid);
            try (ResultSet rows = query.executeQuery()) {
                while (rows.next()) {
                    name = rows.getString(1);
                    if (rows.getString(2) != null) {
                        groups.add(rows.getString(2));
                    }
                }
            }
        }
        return new Access(uid, Set.copyOf(groups), name);
    }

    long uid() {
        return uid;
    }

    boolean superuser() {
        return uid == SUPERUSER;
    }

    boolean inGroup(String group) {
        return superuser() || groups.contains(group);
    }

    boolean allowed(Model model, String operation) {
        return superuser() || model.access().stream().anyMatch(a -> groups.contains(a.group()) && a.allows(operation));
    }

    /** Odoo's access error when the user's groups do not allow {@code operation} on {@code model}. */
    void check(Model model, String operation) {
        if (allowed(model, operation)) {
            return;
        }
        String verb = switch (operation) {
            case "read" -> "access";
            case "write" -> "modify";
            case "create" -> "create";
            default -> "delete";
        };
        List<String> allowing = model.access().stream().filter(a -> a.allows(operation)).map(ModelSpec.Access::group)
                .distinct().toList();
        throw RpcFault.accessError("You are not allowed to " + verb + " '" + model.description() + "' (" + model.name()
                + ") records.\n\n" + (allowing.isEmpty() ? "No group currently allows this operation."
                : "This operation is allowed for the following groups:\n\t- " + String.join("\n\t- ", allowing))
                + "\n\nContact your administrator to request access if necessary.");
    }

    /** The records {@code operation} may touch: AND of the global rules, AND the OR of the user's groups' rules. */
    Domain rules(Model model, String operation) {
        if (superuser() || model.rules().isEmpty()) {
            return Domain.TRUE;
        }
        List<Domain> global = new ArrayList<>();
        List<Domain> ofGroups = new ArrayList<>();
        for (ModelSpec.Rule rule : model.rules()) {
            if (!rule.appliesTo(operation)) {
                continue;
            }
            if (rule.group() == null) {
                global.add(Domain.parse(rule.domain().domain(uid)));
            } else if (groups.contains(rule.group())) {
                ofGroups.add(Domain.parse(rule.domain().domain(uid)));
            }
        }
        if (!ofGroups.isEmpty()) {
            global.add(Domain.or(ofGroups));
        }
        return Domain.and(global);
    }

    /** Odoo's error for records a rule keeps from the user. */
    RpcFault ruleError(Model model, String operation) {
        return RpcFault.accessError("Uh-oh! Looks like you have stumbled upon some top-secret records.\n\nSorry, "
                + userName + " (id=" + uid + ") doesn't have '" + operation + "' access to:\n- " + model.description()
                + " (" + model.name() + ")\n\nIf you really, really need access, perhaps you can win over your friendly"
                + " administrator with a batch of freshly baked cookies.");
    }
}
