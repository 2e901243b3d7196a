package dev.kiln.http;

import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Picks the database of a request, as Odoo does: the one asked for (session, then the
 * {@code X-Kiln-Database} header, then {@code ?db=}) if the filter lets it through and it exists,
 * else the single visible database. {@code dbfilter} is a regular expression matched from the
 * start of the name, where {@code %h} is the request's host without port and {@code www.}, and
 * {@code %d} that host's first label.
 */
public final class DatabaseSelector {

    private final String filter;
    private final Supplier<List<String>> databases;

    /**
     * @param filter    {@code --db-filter}, or null for none
     * @param databases every database Kiln may serve (an explicit {@code -d} list, or those on the server)
     */
    public DatabaseSelector(String filter, Supplier<List<String>> databases) {
        this.filter = filter == null || filter.isBlank() ? null : filter;
        this.databases = databases;
    }

    /** A list of databases kept for a while, which can be told to read it again. */
    public interface Refreshable {
        void refresh();
    }

    /**
     * Reads the list of databases again at the next request: this process just created, copied,
     * restored or dropped one (other processes see it within their list's lifetime, 2 s).
     */
    public void refresh() {
        if (databases instanceof Refreshable list) {
            list.refresh();
        }
    }

    /** The databases a request to {@code host} may use. */
    public List<String> visible(String host) {
        List<String> all = databases.get();
        if (filter == null) {
            return all;
        }
        Pattern pattern = Pattern.compile(expand(filter, host));
        return all.stream().filter(db -> pattern.matcher(db).lookingAt()).toList();
    }

    /** The database for a request to {@code host} asking for {@code wanted} (null: none asked). */
    public Optional<String> select(String host, String wanted) {
        List<String> visible = visible(host);
        if (wanted != null && !wanted.isEmpty()) {
            return visible.contains(wanted) ? Optional.of(wanted) : Optional.empty();
        }
        return visible.size() == 1 ? Optional.of(visible.getFirst()) : Optional.empty();
    }

    /**
     * The database for a request to {@code host} whose session cookie names {@code sessionDb} (null:
     * none): that database when the filter lets it through, else as {@link #select(String, String)}.
     */
    public Optional<String> select(String host, String sessionDb, String wanted) {
        if (sessionDb != null && visible(host).contains(sessionDb)) {
            return Optional.of(sessionDb);
        }
        return select(host, wanted);
    }

    static String expand(String filter, String host) {
        String h = host == null ? "" : host.toLowerCase(Locale.ROOT);
        int colon = h.lastIndexOf(':');
        if (colon > 0 && h.indexOf(']') < colon) {
            h = h.substring(0, colon);
        }
        if (h.startsWith("www.")) {
            h = h.substring(4);
        }
        int dot = h.indexOf('.');
        String d = dot < 0 ? h : h.substring(0, dot);
        return filter.replace("%h", Pattern.quote(h)).replace("%d", Pattern.quote(d));
    }
}
