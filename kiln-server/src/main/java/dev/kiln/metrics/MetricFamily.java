package dev.kiln.metrics;

import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Label;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One metric family as a process hands it to another: what a prefork worker sends its master every
 * second. Values are cumulative since the worker started (never deltas), so a report lost or
 * dropped costs nothing but its freshness, and the master may take the latest one as the truth.
 * A summary travels as its count and sum: quantiles of different processes cannot be merged.
 *
 * @param name the family's name as the registry keeps it (a counter's without {@code _total})
 * @param unit the unit's name, or null
 */
public record MetricFamily(String name, Type type, String help, String unit, List<Point> points) {

    public enum Type { COUNTER, GAUGE, HISTOGRAM, SUMMARY }

    /**
     * One series.
     *
     * @param labels       names and values, alternating
     * @param value        a counter's or gauge's value; a histogram's or summary's sum
     * @param count        a histogram's or summary's count; 0 otherwise
     * @param bounds       a histogram's bucket upper bounds ({@code +Inf} last); empty otherwise
     * @param bucketCounts the observations in each bucket (not cumulative); empty otherwise
     */
    public record Point(List<String> labels, double value, long count, double[] bounds, long[] bucketCounts) {

        public Point {
            labels = List.copyOf(labels);
            if (labels.size() % 2 != 0 || bounds.length != bucketCounts.length || count < 0) {
                throw new IllegalArgumentException("a point of " + labels.size() + " label strings, "
                        + bounds.length + " bounds and " + bucketCounts.length + " bucket counts");
            }
        }

        static Point of(double value, Labels labels) {
            return new Point(strings(labels), value, 0, new double[0], new long[0]);
        }

        Labels labelsObject() {
            String[] names = new String[labels.size() / 2];
            String[] values = new String[names.length];
            for (int i = 0; i < names.length; i++) {
                names[i] = labels.get(2 * i);
                values[i] = labels.get(2 * i + 1);
            }
            return Labels.of(names, values);
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Point p && labels.equals(p.labels) && Double.compare(value, p.value) == 0
                    && count == p.count && Arrays.equals(bounds, p.bounds) && Arrays.equals(bucketCounts, p.bucketCounts);
        }

        @Override
        public int hashCode() {
            return labels.hashCode() * 31 + Double.hashCode(value);
        }

        @Override
        public String toString() {
            return labels + "=" + value + (bounds.length == 0 ? "" : " count " + count + " buckets " + Arrays.toString(bucketCounts));
        }
    }

    public MetricFamily {
        points = List.copyOf(points);
    }

    /** The same family with {@code points} instead of its own. */
    public MetricFamily withPoints(List<Point> points) {
        return new MetricFamily(name, type, help, unit, points);
    }

    /** The families of a scrape that can travel: counters, gauges, classic histograms and summaries. */
    public static List<MetricFamily> of(MetricSnapshots snapshots) {
        List<MetricFamily> families = new ArrayList<>();
        for (MetricSnapshot snapshot : snapshots) {
            MetricFamily family = of(snapshot);
            if (family != null) {
                families.add(family);
            }
        }
        return families;
    }

    /** The family of one snapshot, or null for a type that does not travel (info, state set, unknown, gauge histogram). */
    static MetricFamily of(MetricSnapshot snapshot) {
        List<Point> points = new ArrayList<>();
        Type type;
        switch (snapshot) {
            case CounterSnapshot counter -> {
                type = Type.COUNTER;
                counter.getDataPoints().forEach(p -> points.add(Point.of(p.getValue(), p.getLabels())));
            }
            case GaugeSnapshot gauge -> {
                type = Type.GAUGE;
                gauge.getDataPoints().forEach(p -> points.add(Point.of(p.getValue(), p.getLabels())));
            }
            case HistogramSnapshot histogram when !histogram.isGaugeHistogram() -> {
                type = Type.HISTOGRAM;
                for (HistogramSnapshot.HistogramDataPointSnapshot p : histogram.getDataPoints()) {
                    if (!p.hasClassicHistogramData()) {
                        continue;
                    }
                    ClassicHistogramBuckets buckets = p.getClassicBuckets();
                    double[] bounds = new double[buckets.size()];
                    long[] counts = new long[buckets.size()];
                    for (int i = 0; i < bounds.length; i++) {
                        bounds[i] = buckets.getUpperBound(i);
                        counts[i] = buckets.getCount(i);
                    }
                    points.add(new Point(strings(p.getLabels()), p.hasSum() ? p.getSum() : 0, p.hasCount() ? p.getCount()
                            : Arrays.stream(counts).sum(), bounds, counts));
                }
            }
            case SummarySnapshot summary -> {
                type = Type.SUMMARY;
                summary.getDataPoints().forEach(p -> points.add(new Point(strings(p.getLabels()), p.hasSum() ? p.getSum() : 0,
                        p.hasCount() ? p.getCount() : 0, new double[0], new long[0])));
            }
            default -> {
                return null;
            }
        }
        var metadata = snapshot.getMetadata();
        return new MetricFamily(metadata.getName(), type, metadata.getHelp(),
                metadata.hasUnit() ? metadata.getUnit().toString() : null, points);
    }

    private static List<String> strings(Labels labels) {
        List<String> strings = new ArrayList<>(labels.size() * 2);
        for (Label label : labels) {
            strings.add(label.getName());
            strings.add(label.getValue());
        }
        return strings;
    }
}
