package dev.kiln.server;

import dev.kiln.server.WorkerProcess.Kind;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ReloadTest {

    private final Reload<String> atRest = Reload.first();

    @Test
    void theMasterStartsAtGenerationOneWithNoReload() {
        assertThat(atRest.generation()).isEqualTo(1);
        assertThat(atRest.inProgress()).isFalse();
    }

    @Test
    void aReloadStartsTheNextGenerationWithItsHttpWorkersAndDefersTheOthers() {
        Reload<String> reload = atRest.begin(List.of("w2", "w3"), List.of(Kind.CRON, Kind.EVENTED), 1_000);
        assertThat(reload.generation()).isEqualTo(atRest.nextGeneration()).isEqualTo(2);
        assertThat(reload.inProgress()).isTrue();
        assertThat(reload.pending()).containsExactly("w2", "w3");
        assertThat(reload.deferred()).containsExactly(Kind.CRON, Kind.EVENTED);
        assertThat(reload.again()).isFalse();
    }

    @Test
    void aReloadCannotBeginDuringAnotherNorWithoutWorkers() {
        Reload<String> reload = atRest.begin(List.of("w2"), List.of(), 1_000);
        assertThatThrownBy(() -> reload.begin(List.of("w3"), List.of(), 2_000)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> atRest.begin(List.of(), List.of(Kind.CRON), 2_000)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void hupsDuringAReloadAskForOneMoreAfterIt() {
        Reload<String> reload = atRest.begin(List.of("w2"), List.of(), 1_000).followedByAnother().followedByAnother();
        assertThat(reload.again()).isTrue();
        assertThat(reload.generation()).as("the same reload goes on").isEqualTo(2);
        assertThat(reload.pending()).containsExactly("w2");
    }

    @Test
    void theDeferredWorkersJoinThePendingOnesAndMayOnlyPushTheDeadlineBack() {
        Reload<String> reload = atRest.begin(List.of("w2"), List.of(Kind.CRON), 1_000).followedByAnother();
        Reload<String> later = reload.joinedBy(List.of("c3"), 5_000);
        assertThat(later.pending()).containsExactly("w2", "c3");
        assertThat(later.deferred()).isEmpty();
        assertThat(later.deadlineNanos()).isEqualTo(5_000);
        assertThat(later.again()).as("the HUP that came meanwhile is kept").isTrue();
        assertThat(reload.joinedBy(List.of("c3"), 500).deadlineNanos()).isEqualTo(1_000);
    }

    @Test
    void theDeadlineIsComparedAsNanoTimeIsEvenAcrossItsOverflow() {
        Reload<String> reload = atRest.begin(List.of("w2"), List.of(), Long.MAX_VALUE);
        assertThat(reload.overdue(Long.MAX_VALUE - 1)).isFalse();
        assertThat(reload.overdue(Long.MIN_VALUE)).as("just past the deadline, wrapped").isTrue();
    }

    @Test
    void aFinishedReloadKeepsItsGenerationAndLeavesNothingBehind() {
        Reload<String> done = atRest.begin(List.of("w2"), List.of(Kind.CRON), 1_000).followedByAnother().finished();
        assertThat(done.generation()).isEqualTo(2);
        assertThat(done.inProgress()).isFalse();
        assertThat(done.deferred()).isEmpty();
        assertThat(done.again()).isFalse();
        assertThat(done.begin(List.of("w4"), List.of(), 2_000).generation()).isEqualTo(3);
    }

    @Test
    void aReloadGivenUpBeforeAnyNewWorkerServedGoesBackToTheOldGeneration() {
        Reload<String> givenUp = atRest.begin(List.of("w2", "w3"), List.of(Kind.CRON), 1_000).followedByAnother()
                .abandoned(false);
        assertThat(givenUp.generation()).isEqualTo(1);
        assertThat(givenUp.inProgress()).isFalse();
        assertThat(givenUp.deferred()).isEmpty();
        assertThat(givenUp.again()).as("the HUP that came meanwhile goes with it").isFalse();
    }

    @Test
    void aReloadGivenUpOnceSomeNewWorkersServeKeepsTheirGeneration() {
        assertThat(atRest.begin(List.of("w2", "w3"), List.of(), 1_000).abandoned(true).generation()).isEqualTo(2);
    }
}
