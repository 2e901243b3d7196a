package dev.kiln.addons;

import dev.kiln.api.AddonContext;
import dev.kiln.api.ModelSpec;
import dev.kiln.api.CronJob;
import dev.kiln.api.Request;
import dev.kiln.api.Response;
import dev.kiln.api.Route;
import dev.kiln.api.RpcCall;
import dev.kiln.failure.KilnException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The {@link AddonContext} one addon registers through; collects its routes and cron jobs. */
final class AddonRegistrar implements AddonContext {

    private static final MethodType HANDLER = MethodType.methodType(Object.class, Request.class);

    private final Manifest manifest;
    private final List<RouteSpec> routes = new ArrayList<>();
    private final List<CronSpec> crons = new ArrayList<>();
    private final List<ModelSpec> models = new ArrayList<>();

    AddonRegistrar(Manifest manifest) {
        this.manifest = manifest;
    }

    List<RouteSpec> routes() {
        return routes;
    }

    List<CronSpec> crons() {
        return crons;
    }

    List<ModelSpec> models() {
        return models;
    }

    @Override
    public String name() {
        return manifest.name();
    }

    @Override
    public Path directory() {
        return manifest.directory();
    }

    @Override
    public String serverVersion() {
        return ServerVersion.current();
    }

    @Override
    public void routes(Object controller) {
        Method[] methods = controller.getClass().getMethods();
        // getMethods has no defined order; sort so registration (and errors) are stable
        Arrays.sort(methods, Comparator.comparing(Method::getName).thenComparing(Method::toString));
        for (Method method : methods) {
            Route route = method.getAnnotation(Route.class);
            if (route != null) {
                register(controller, method, route);
            }
        }
    }

    @Override
    public void cron(CronJob job) {
        if (job == null) {
            throw refuse("cron(null): declare a CronJob");
        }
        if (crons.stream().anyMatch(c -> c.job().name().equals(job.name()))) {
            throw refuse("cron job '" + job.name() + "' is declared twice");
        }
        crons.add(new CronSpec(manifest.name(), job));
    }

    /** A service is an abstract model: its methods under the name, without records. */
    @Override
    public void service(String name, Object service) {
        if (name == null || name.isBlank() || service == null) {
            throw refuse("service(name, service) needs a name and an object");
        }
        ModelSpec model;
        try {
            model = ModelSpec.abstractModel(name).methodsOf(service);
        } catch (IllegalArgumentException e) {
            throw refuse("service '" + name + "': " + e.getMessage());
        }
        model(model);
    }

    @Override
    public void model(ModelSpec model) {
        if (model == null) {
            throw refuse("model(null): declare a ModelSpec");
        }
        if (models.stream().anyMatch(m -> m.name().equals(model.name()))) {
            throw refuse("model '" + model.name() + "' is declared twice");
        }
        models.add(model);
    }

    private void register(Object controller, Method method, Route route) {
        String where = method.getDeclaringClass().getName() + "." + method.getName();
        checkSignature(method, route, where);
        RouteSpec.Handler handler = handler(controller, method, where);
        List<String> verbs = Arrays.stream(route.methods()).map(m -> m.trim().toUpperCase(Locale.ROOT)).distinct().toList();
        if (route.value().length == 0) {
            throw refuse(where + " has a @Route without a path");
        }
        for (String path : route.value()) {
            if (path.isEmpty() || path.charAt(0) != '/') {
                throw refuse(where + " declares path \"" + path + "\", which must start with /");
            }
            routes.add(new RouteSpec(manifest.name(), path, route.type(), route.auth(), verbs, route.csrf(), route.readonly(), handler, where));
        }
    }

    private void checkSignature(Method method, Route route, String where) {
        if (Modifier.isStatic(method.getModifiers())) {
            throw refuse(where + " is static; routes are instance methods");
        }
        Class<?>[] params = method.getParameterTypes();
        if (params.length > 1 || (params.length == 1 && params[0] != Request.class)) {
            throw refuse(where + " must take no argument or one dev.kiln.api.Request");
        }
        if (route.type() == Route.Type.HTTP && method.getReturnType() != Response.class) {
            throw refuse(where + " is a type=http route and must return dev.kiln.api.Response");
        }
    }

    private RouteSpec.Handler handler(Object controller, Method method, String where) {
        MethodHandle handle;
        try {
            method.setAccessible(true);
            handle = MethodHandles.lookup().unreflect(method).bindTo(controller);
        } catch (IllegalAccessException | RuntimeException e) {
            throw refuse(where + " cannot be called: " + e.getMessage());
        }
        if (method.getParameterCount() == 0) {
            handle = MethodHandles.dropArguments(handle, 0, Request.class);
        }
        MethodHandle exact = handle.asType(HANDLER);
        return exact::invokeExact;
    }

    private KilnException refuse(String problem) {
        return KilnException.failure("addon '" + manifest.name() + "': " + problem + " (" + manifest.file() + ")");
    }
}
