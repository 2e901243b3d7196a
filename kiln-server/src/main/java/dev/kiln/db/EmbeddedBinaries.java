package dev.kiln.db;

import io.zonky.test.db.postgres.embedded.DefaultPostgresBinaryResolver;
import io.zonky.test.db.postgres.embedded.PgBinaryResolver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.JarURLConnection;
import java.net.URL;
import java.net.URLConnection;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.jar.JarEntry;

/**
 * The bundled PostgreSQL archive as the embedded server's library sees it, without reading it on
 * every start. The library names the folder it unpacks the archive into after the MD5 of the whole
 * archive (14 MB), so it inflates and digests it on each start before it can tell the folder is
 * there: about 0.2 s of CPU and 30 MB of garbage per start. Its version offers no way to name an
 * unpacked folder instead.
 *
 * <p>So this resolver hands the library a stand-in: a few bytes naming the archive (its jar entry's
 * name, CRC and size, read from the jar's directory without inflating anything). Their digest names
 * a link, {@code PG-<md5 of the stand-in>}, to the folder the archive was unpacked into, which the
 * library finds ready and uses. Until the link exists (the first start of a build, or its folder was
 * swept), the library gets the archive itself, unpacks it as always, and the link is made after that
 * start ({@link #remember()}).
 */
final class EmbeddedBinaries implements PgBinaryResolver {

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedBinaries.class);
    /** The library's mark of a completely unpacked folder. */
    private static final String UNPACKED = ".exists";
    /** Reads of the archive itself by this JVM, across every folder: what a test counts. */
    private static final AtomicInteger ARCHIVE_READS = new AtomicInteger();
    /**
     * One resolver per folder in a JVM: the library keeps, for as long as the JVM lives, the folder
     * each resolver it saw led to (a second start here reads nothing at all).
     */
    private static final Map<Path, EmbeddedBinaries> BY_FOLDER = new ConcurrentHashMap<>();

    /** An archive read in full, and the name of the folder the library unpacks it into. */
    private record Read(Archive archive, String unpacked) { }

    private final Path folder;
    /** The archive this resolver last handed over in full, and where the library unpacked it; null when none. */
    private volatile Read read;

    /** A resolver of its own, as a new process has: {@link #in} is the one to start servers with. */
    EmbeddedBinaries(Path folder) {
        this.folder = folder;
    }

    /** This JVM's resolver of the binaries unpacked in {@code folder}. */
    static EmbeddedBinaries in(Path folder) {
        return BY_FOLDER.computeIfAbsent(folder, EmbeddedBinaries::new);
    }

    Path folder() {
        return folder;
    }

    @Override
    public InputStream getPgBinary(String system, String hardware) throws IOException {
        Archive archive = Archive.find(system, hardware);
        if (archive == null) {
            return DefaultPostgresBinaryResolver.INSTANCE.getPgBinary(system, hardware);
        }
        if (Files.exists(link(archive).resolve(UNPACKED))) {
            return new ByteArrayInputStream(archive.standIn());
        }
        ARCHIVE_READS.incrementAndGet();
        MessageDigest md5 = md5();
        return new DigestInputStream(archive.url().openStream(), md5) {
            @Override
            public void close() throws IOException {
                super.close();
                try {
                    // a copy: the library reads the digest itself after the close
                    read = new Read(archive, "PG-" + HexFormat.of().formatHex(((MessageDigest) md5.clone()).digest()));
                } catch (CloneNotSupportedException e) {
                    // not remembered: the next start reads the archive again
                }
            }
        };
    }

    /**
     * After a start that read the archive itself: links its stand-in's folder name to the folder the
     * library unpacked it into, so that the next start reads nothing. A failure is logged: the next
     * start only reads the archive again.
     */
    void remember() {
        Read handed = read;
        read = null;
        if (handed == null || !Files.exists(folder.resolve(handed.unpacked()).resolve(UNPACKED))) {
            return;
        }
        try {
            Path link = link(handed.archive());
            Path fresh = folder.resolve(link.getFileName() + ".new-" + ProcessHandle.current().pid());
            Files.deleteIfExists(fresh);
            Files.createSymbolicLink(fresh, Path.of(handed.unpacked()));
            Files.move(fresh, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            LOG.warn("embedded PostgreSQL: cannot remember where its binaries were unpacked ({}); the next start reads"
                    + " them again", e.toString());
        }
    }

    /** How many times this JVM read the archive itself. */
    static int archiveReads() {
        return ARCHIVE_READS.get();
    }

    private Path link(Archive archive) {
        return folder.resolve("PG-" + HexFormat.of().formatHex(md5().digest(archive.standIn())));
    }

    private static MessageDigest md5() {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The archive of this system in a jar on the class path, and what identifies its content. */
    private record Archive(URL url, String name, long crc, long size) {

        /** The archive the bundled binaries jar holds for {@code system}/{@code hardware}; null when none is in a jar. */
        static Archive find(String system, String hardware) throws IOException {
            String name = "postgres-" + system.toLowerCase(Locale.ROOT).replace(' ', '_') + "-" + architecture(hardware) + ".txz";
            URL url = EmbeddedBinaries.class.getClassLoader().getResource(name);
            if (url == null) {
                return null;
            }
            URLConnection connection = url.openConnection();
            if (!(connection instanceof JarURLConnection jar)) {
                return null;
            }
            jar.setUseCaches(true);             // the class loader's own open jar: its directory, nothing inflated
            JarEntry entry = jar.getJarEntry();
            if (entry == null || entry.getCrc() < 0 || entry.getSize() < 0) {
                return null;
            }
            return new Archive(url, name, entry.getCrc(), entry.getSize());
        }

        private static String architecture(String hardware) {
            return switch (hardware.toLowerCase(Locale.ROOT)) {
                case "amd64", "x86_64", "x64" -> "x86_64";
                case "aarch64", "arm64" -> "arm_64";
                default -> hardware.toLowerCase(Locale.ROOT);
            };
        }

        /** What the library digests in place of the archive: its name, CRC and size. */
        byte[] standIn() {
            return ("kiln embedded PostgreSQL binaries\n" + name + "\n" + Long.toHexString(crc) + "\n" + size + "\n")
                    .getBytes(StandardCharsets.UTF_8);
        }
    }
}
