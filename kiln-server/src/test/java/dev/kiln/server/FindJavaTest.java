package dev.kiln.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** bin/find-java, which `make` and bin/kiln use to find a JDK 25 on a machine whose default java is older. */
class FindJavaTest {

    private static final Path SCRIPT = Path.of(System.getProperty("kiln.dist"), "..", "bin", "find-java").normalize();

    @TempDir
    Path dir;

    @Test
    void javaHomeIsTakenWhenItIsRecentEnough() throws Exception {
        Path jdk = fakeJdk("jdk-26", 26);
        Result result = run(Map.of("JAVA_HOME", jdk.toString(), "PATH", tools(), "KILN_JVM_DIRS", dir.resolve("none").toString()));
        assertThat(result.exit).isZero();
        assertThat(result.out.trim()).isEqualTo(jdk.toString());
    }

    @Test
    void anOldJavaHomeIsPassedOverForAJdkUnderTheJvmFolder() throws Exception {
        Path old = fakeJdk("jdk-17", 17);
        Path jvms = Files.createDirectories(dir.resolve("jvm"));
        Path recent = fakeJdk("jvm/temurin-25", 25);
        Result result = run(Map.of("JAVA_HOME", old.toString(), "PATH", tools(), "KILN_JVM_DIRS", jvms.toString()));
        assertThat(result.exit).isZero();
        assertThat(result.out.trim()).isEqualTo(recent.toString());
    }

    @Test
    void noRecentJdkIsOneClearMessageNamingWhatWasSeen() throws Exception {
        Path old = fakeJdk("jdk-17", 17);
        Result result = run(Map.of("JAVA_HOME", old.toString(), "PATH", tools(), "KILN_JVM_DIRS", dir.resolve("none").toString()));
        assertThat(result.exit).isEqualTo(1);
        assertThat(result.err).contains("no JDK 25 or newer found").contains(old + " (17)").contains("set JAVA_HOME");
    }

    @Test
    void aJdksReleaseFileIsReadWithoutStartingItsJava() throws Exception {
        Path jvms = Files.createDirectories(dir.resolve("jvm"));
        Path eight = fakeJdk("jvm/a-jdk-8", 25);
        Files.writeString(eight.resolve("release"), "IMPLEMENTOR=\"x\"\nJAVA_VERSION=\"1.8.0_412\"\n");
        Path recent = fakeJdk("jvm/b-temurin-25", 17);
        Files.writeString(recent.resolve("release"), "JAVA_VERSION=\"25.0.3\"\nJAVA_RUNTIME_VERSION=\"25.0.3+9-LTS\"\n");
        Result result = run(Map.of("PATH", tools(), "KILN_JVM_DIRS", jvms.toString()));
        assertThat(result.exit).isZero();
        assertThat(result.out.trim()).as("each release file's version, not what its java would say").isEqualTo(recent.toString());
        assertThat(dir.resolve("java-ran")).as("no JVM started to learn a version").doesNotExist();
    }

    /** A PATH with the few tools the script uses and no java, whatever this machine's default java is. */
    private String tools() throws IOException {
        Path bin = Files.createDirectories(dir.resolve("tools"));
        for (String tool : new String[] {"sed", "head", "readlink", "dirname", "touch"}) {
            Path wrapper = bin.resolve(tool);
            Files.writeString(wrapper, "#!/bin/sh\nexec /usr/bin/" + tool + " \"$@\"\n");
            Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        return bin.toString();
    }

    private Path fakeJdk(String name, int version) throws IOException {
        Path bin = Files.createDirectories(dir.resolve(name).resolve("bin"));
        String java = "#!/bin/sh\ntouch '" + dir.resolve("java-ran") + "'\necho '    java.specification.version = " + version
                + "' >&2\n";
        for (String tool : new String[] {"java", "javac"}) {
            Path file = bin.resolve(tool);
            Files.writeString(file, java);
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        return dir.resolve(name);
    }

    private record Result(int exit, String out, String err) { }

    private Result run(Map<String, String> env) throws Exception {
        ProcessBuilder builder = new ProcessBuilder("sh", SCRIPT.toString());
        builder.environment().clear();
        builder.environment().putAll(env);
        Path out = dir.resolve("out"), err = dir.resolve("err");
        Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        int exit = process.waitFor();
        return new Result(exit, Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }
}
