package dev.kiln.addons;

import dev.kiln.api.CronJob;

/** A cron job as declared by an addon; stored in a database as {@link #fullName()}. */
public record CronSpec(String addon, CronJob job) {

    /** {@code <addon>.<name>}: the job's name in every database, and the name of its code. */
    public String fullName() {
        return addon + "." + job.name();
    }
}
