package dev.kiln.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

import dev.kiln.addons.Scaffold;
import dev.kiln.failure.KilnException;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.ParseResult;

/**
 * {@code kiln scaffold NAME [DIR]}, Odoo's {@code odoo-bin scaffold}: writes {@code DIR/NAME/}, a
 * source addon with a route, a cron job, a migration, a static file and a test (see {@link Scaffold}).
 * It needs no configuration and touches no database. A bad name or an existing folder is a usage
 * error (exit 2) and nothing is written.
 */
final class ScaffoldCommand {

    private ScaffoldCommand() { }

    static int run(List<String> args, PrintStream out) {
        CommandLine cl = commandLine();
        ParseResult result = KilnCommand.parse(cl, args);
        if (result.isUsageHelpRequested()) {
            cl.usage(out);
            return KilnException.OK;
        }
        List<String> values = result.matchedPositionals().stream().flatMap(p -> p.stringValues().stream()).toList();
        if (values.isEmpty() || values.size() > 2) {
            throw KilnException.usage("kiln scaffold takes NAME [DIR] (kiln scaffold --help)");
        }
        String name = values.getFirst();
        Path addon = Scaffold.create(name, Path.of(values.size() > 1 ? values.get(1) : "."));
        out.println("addon '" + name + "' created in " + addon);
        out.println("install and serve it: kiln --addons-path=" + addon.getParent() + " -d DATABASE -i " + name);
        return KilnException.OK;
    }

    private static CommandLine commandLine() {
        CommandSpec spec = CommandSpec.create().name("scaffold");
        spec.usageMessage()
                .customSynopsis("kiln scaffold NAME [DIR]")
                .description("Creates DIR/NAME/ (DIR defaults to the current folder): a source addon with a route",
                        "(GET /NAME), a cron job, a SQL migration, a static file and a test, ready to install:",
                        "kiln --addons-path=DIR -d DATABASE -i NAME. NAME: lowercase letters, digits and",
                        "underscores, starting with a letter.")
                .footerHeading("%n")
                .footer("Exit codes: 0 ok, 1 failure, 2 bad name or existing folder (nothing written).",
                        "Reference: docs/addon-guide.md.")
                .width(100);
        spec.addOption(OptionSpec.builder("-h", "--help").usageHelp(true).description("show this help and exit").build());
        spec.addPositional(PositionalParamSpec.builder().arity("0..*").type(List.class)
                .auxiliaryTypes(String.class).paramLabel("NAME [DIR]").build());
        CommandLine cl = new CommandLine(spec);
        cl.setExpandAtFiles(false);
        cl.setAbbreviatedOptionsAllowed(false);
        return cl;
    }
}
