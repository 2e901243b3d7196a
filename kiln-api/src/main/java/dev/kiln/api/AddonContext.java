package dev.kiln.api;

import java.nio.file.Path;

/** What an addon may declare while it is being registered. */
public interface AddonContext {

    /** The addon's technical name (its folder name). */
    String name();

    /** The addon's folder on the addons path. */
    Path directory();

    /** The version of the Kiln server running the addon, e.g. {@code 0.1.0}. */
    String serverVersion();

    /**
     * Registers every method of {@code controller} annotated with {@link Route}.
     * A path already claimed by another addon stops the start with an error naming both.
     */
    void routes(Object controller);

    /**
     * Declares a scheduled job; installing the addon in a database creates it there as
     * {@code <addon>.<name>}. A name declared twice by the addon stops the start.
     */
    void cron(CronJob job);

    /**
     * Offers {@code service} to Odoo's external API under {@code name} (Odoo's model name, e.g.
     * {@code res.users}): {@code execute_kw(db, uid, password, name, method, args, kwargs)} calls its
     * public method {@code method}, which takes an {@link RpcCall} and returns the result. Methods
     * whose names start with {@code _} are never callable. The service answers in the databases
     * where the addon is installed (everywhere when it is server-wide). A name offered twice stops
     * the start with an error naming both addons.
     */
    void service(String name, Object service);

    /**
     * Declares a model ({@link ModelSpec#of}) or additions to another addon's ({@link ModelSpec#extend}).
     * Its table and columns are made when the addon is installed or updated, after the addon's
     * migrations; Odoo's methods then answer on it in the databases where the addon is installed.
     * A model declared by two addons, or extended by an addon that does not depend on its
     * declaring addon, stops the start.
     */
    void model(ModelSpec model);
}
