package dev.kiln.metrics;

import dev.kiln.metrics.MetricFamily.Point;
import dev.kiln.metrics.MetricFamily.Type;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Exemplars;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.MetricMetadata;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Quantiles;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;
import io.prometheus.metrics.model.snapshots.SummarySnapshot.SummaryDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Unit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The prefork master's view of the whole server: its own metrics merged with the latest report of
 * every live worker and what the workers that are gone had counted. Counters, histograms (bucket by
 * bucket) and summaries (count and sum) are summed into one series per label set, so each stays
 * monotonic for the life of the master across recycling, reloads, TTIN/TTOU and crashes. Gauges
 * are not summed: each live worker's carry its labels {@code worker}, {@code kind} and
 * {@code generation}, and vanish with it; those whose sum means something ({@link #SUMMED_GAUGES}:
 * requests in flight, say) have besides one series without those labels, the sum over the
 * master and its live workers.
 *
 * <p>A worker reports every second and once more as it stops, so a worker that exits normally
 * loses nothing; one that crashes (or is killed) loses what it counted since its last report, at
 * most a second's worth. A report replaces the worker's previous values series by series
 * ({@link #report}); when its channel ends, its counts move to the retired totals ({@link #gone}).
 *
 * <p>Thread-safe: workers' readers report while a scrape collects.
 */
public final class MergedMetrics {

    private static final Logger LOG = LoggerFactory.getLogger(MergedMetrics.class);
    /** Gauges whose sum over the processes is the server's own figure. */
    static final Set<String> SUMMED_GAUGES = Set.of("kiln_http_requests_in_flight", "kiln_cron_runners_busy",
            "kiln_bus_websockets_open", "kiln_bus_long_polls_waiting", "kiln_db_pool_connections", "kiln_db_pool_waiting");

    /** A live worker: who it is, and its latest value of each series, by family then labels. */
    private record Source(String worker, String kind, String generation, Map<String, Family> families) { }

    /** A family being summed: its description, and a value per label set. */
    private static final class Family {
        final String name;
        final Type type;
        final String help;
        final String unit;
        final Map<List<String>, Point> points = new LinkedHashMap<>();

        Family(MetricFamily family) {
            this.name = family.name();
            this.type = family.type();
            this.help = family.help();
            this.unit = family.unit();
        }

        /** Adds {@code point} to the series of its labels; false when the bucket bounds differ. */
        boolean add(Point point) {
            Point sum = points.get(point.labels());
            if (sum == null || type == Type.GAUGE) {
                points.put(point.labels(), point);
                return true;
            }
            if (!Arrays.equals(sum.bounds(), point.bounds())) {
                return false;
            }
            long[] counts = sum.bucketCounts().clone();
            for (int i = 0; i < counts.length; i++) {
                counts[i] += point.bucketCounts()[i];
            }
            points.put(point.labels(), new Point(point.labels(), sum.value() + point.value(), sum.count() + point.count(),
                    sum.bounds(), counts));
            return true;
        }
    }

    private final Supplier<MetricSnapshots> own;
    private final Map<Integer, Source> live = new HashMap<>();
    private final Map<String, Family> retired = new LinkedHashMap<>();
    /** Families already warned about, so that a mismatch is one line, not one a second. */
    private final Set<String> warned = new HashSet<>();

    /** @param own the master's own scrape (its JVM, its worker table, its reloads) */
    public MergedMetrics(Supplier<MetricSnapshots> own) {
        this.own = own;
    }

    /** Worker {@code id} exists: its gauges will carry these labels. */
    public synchronized void admit(int id, String kind, int generation) {
        live.put(id, new Source(String.valueOf(id), kind, String.valueOf(generation), new HashMap<>()));
    }

    /** The latest values of one family of worker {@code id}; a report of a worker not admitted (or gone) is dropped. */
    public synchronized void report(int id, MetricFamily family) {
        Source source = live.get(id);
        if (source == null) {
            return;
        }
        Family latest = source.families.computeIfAbsent(family.name(), name -> new Family(family));
        if (latest.type != family.type()) {
            warnOnce(family.name(), "worker " + id + " reports it as a " + family.type() + ", not a " + latest.type);
            return;
        }
        for (Point point : family.points()) {
            latest.points.put(point.labels(), point);
        }
    }

    /** Worker {@code id} is gone (its channel ended): its counts join the retired totals, its gauges vanish. */
    public synchronized void gone(int id) {
        Source source = live.remove(id);
        if (source != null) {
            source.families.values().forEach(family -> addAll(retired, family, null));
        }
    }

    /** The whole server's metrics, for one scrape. */
    public MetricSnapshots collect() {
        MetricSnapshots mine = own.get();
        List<MetricSnapshot> passed = new ArrayList<>();
        Map<String, Family> merged = new LinkedHashMap<>();
        for (MetricSnapshot snapshot : mine) {
            MetricFamily family = MetricFamily.of(snapshot);
            if (family == null) {
                passed.add(snapshot);          // an info or state set of the master's: it is the master's alone
            } else {
                addAll(merged, fromFamily(family), null);
            }
        }
        synchronized (this) {
            retired.values().forEach(family -> addAll(merged, family, null));
            for (Source source : live.values()) {
                source.families.values().forEach(family -> addAll(merged, family, source));
            }
        }
        List<MetricSnapshot> all = new ArrayList<>(passed);
        merged.values().forEach(family -> all.add(snapshotOf(family)));
        return new MetricSnapshots(all);
    }

    private static Family fromFamily(MetricFamily family) {
        Family copy = new Family(family);
        family.points().forEach(point -> copy.points.put(point.labels(), point));
        return copy;
    }

    /** Adds every series of {@code family} into {@code into}: counts summed, gauges labelled with {@code source} (null: as they are). */
    private void addAll(Map<String, Family> into, Family family, Source source) {
        if (family.type == Type.GAUGE && source == null && into == retired) {
            return;                           // a gone worker's gauges say nothing any more
        }
        Family sum = into.computeIfAbsent(family.name, name -> new Family(
                new MetricFamily(family.name, family.type, family.help, family.unit, List.of())));
        if (sum.type != family.type) {
            warnOnce(family.name, "one process reports it as a " + family.type + ", another as a " + sum.type);
            return;
        }
        for (Point point : family.points.values()) {
            if (family.type == Type.GAUGE && source != null) {
                sum.add(withWorker(point, source));
                if (SUMMED_GAUGES.contains(family.name)) {
                    Point total = sum.points.get(point.labels());
                    sum.points.put(point.labels(), total == null ? point : new Point(point.labels(),
                            total.value() + point.value(), 0, point.bounds(), point.bucketCounts()));
                }
            } else if (!sum.add(point)) {
                warnOnce(family.name, "bucket bounds " + Arrays.toString(point.bounds()) + " differ from "
                        + Arrays.toString(sum.points.get(point.labels()).bounds()) + "; those series are left out");
            }
        }
    }

    private static Point withWorker(Point point, Source source) {
        List<String> labels = new ArrayList<>(point.labels());
        labels.addAll(List.of("worker", source.worker, "kind", source.kind, "generation", source.generation));
        return new Point(labels, point.value(), point.count(), point.bounds(), point.bucketCounts());
    }

    private void warnOnce(String family, String why) {
        if (warned.add(family)) {
            LOG.warn("Metrics: family {} cannot be merged: {}", family, why);
        }
    }

    private static MetricSnapshot snapshotOf(Family family) {
        MetricMetadata metadata = new MetricMetadata(family.name, family.help, family.unit == null ? null : new Unit(family.unit));
        return switch (family.type) {
            case COUNTER -> new CounterSnapshot(metadata, family.points.values().stream()
                    .map(p -> new CounterDataPointSnapshot(p.value(), p.labelsObject(), null, 0L)).toList());
            case GAUGE -> new GaugeSnapshot(metadata, family.points.values().stream()
                    .map(p -> new GaugeDataPointSnapshot(p.value(), p.labelsObject(), null)).toList());
            case HISTOGRAM -> new HistogramSnapshot(metadata, family.points.values().stream()
                    .map(p -> new HistogramDataPointSnapshot(ClassicHistogramBuckets.of(p.bounds(), p.bucketCounts()),
                            p.value(), p.labelsObject(), Exemplars.EMPTY, 0L)).toList());
            case SUMMARY -> new SummarySnapshot(metadata, family.points.values().stream()
                    .map(p -> new SummaryDataPointSnapshot(p.count(), p.value(), Quantiles.EMPTY, p.labelsObject(),
                            Exemplars.EMPTY, 0L)).toList());
        };
    }
}
