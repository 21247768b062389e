"""Health over a sliding window of observed (injected) time."""

from __future__ import annotations

from threadwatch.config import load_config
from threadwatch.events import Event, Kind
from threadwatch.health.levels import Level
from threadwatch.health.scope import TOTAL
from threadwatch.health.window import WindowedHealth


def batch(source: str, task: str, overloaded: bool) -> list[Event]:
    events = [Event(Kind.BATCH, source, 0, task_id=task)]
    if overloaded:
        events.append(Event(Kind.OVERLOAD, source, 1, number=70))
    else:
        events += [
            Event(Kind.SAMPLE_DONE, source, 2, task_id=task, sample_type="demo", sample_index=k)
            for k in range(4)
        ]
    return events


def test_overload_episode_turns_red_then_ages_out_of_the_window() -> None:
    health = WindowedHealth(load_config(), window_seconds=60, bucket_seconds=10)
    for i in range(4):
        health.add_all(batch("a.log", f"0000000{i}", overloaded=True), at=1000 + i)
    changes = health.evaluate(1005)
    assert {(c.scope, c.previous, c.current) for c in changes} == {
        ("a.log", Level.UNKNOWN, Level.RED),
        (TOTAL, Level.UNKNOWN, Level.RED),
    }
    assert health.evaluate(1006) == []
    for i in range(4):
        health.add_all(batch("a.log", f"1000000{i}", overloaded=False), at=1100 + i)
    changes = health.evaluate(1105)
    assert {(c.scope, c.current) for c in changes} == {("a.log", Level.GREEN), (TOTAL, Level.GREEN)}


def test_total_sums_the_sources_window_counts() -> None:
    health = WindowedHealth(load_config(), window_seconds=60)
    health.add_all(batch("a.log", "00000001", overloaded=True), at=10)
    health.add_all(batch("b.log", "00000002", overloaded=False), at=10)
    *sources, total = health.snapshot(11)
    assert [s.scope for s in sources] == ["a.log", "b.log"]
    assert total.counts["batches"] == 2 and total.counts["overload"] == 1


def test_forgotten_source_leaves_the_total() -> None:
    health = WindowedHealth(load_config(), window_seconds=60)
    health.add_all(batch("a.log", "00000001", overloaded=True), at=10)
    health.forget("a.log")
    (total,) = health.snapshot(11)
    assert total.counts["batches"] == 0 and total.verdict.level is Level.UNKNOWN


def test_open_batch_leaves_the_window_with_its_bucket() -> None:
    health = WindowedHealth(load_config(), window_seconds=60, bucket_seconds=10)
    health.add_all(batch("a.log", "00000001", overloaded=False), at=1000)  # never closed
    (_, total) = health.snapshot(1001)
    assert (total.counts["batches"], total.counts["process_pool_used"]) == (1, 1)
    (_, total) = health.snapshot(1100)
    assert (total.counts["batches"], total.counts["process_pool_used"]) == (0, 0)


def test_executor_counts_in_the_bucket_of_its_batch() -> None:
    health = WindowedHealth(load_config(), window_seconds=60, bucket_seconds=10)
    health.add_all(batch("a.log", "00000001", overloaded=False), at=1000)
    done = Event(Kind.TASK_DONE, "a.log", 9, task_id="00000001", batch_index=0, number=1)
    health.add(done, at=1055)  # closes the batch in a later bucket
    (_, total) = health.snapshot(1055)
    assert total.counts["process_pool_used"] == 1
    (_, total) = health.snapshot(1062)  # the batch's bucket has left the window
    assert (total.counts["batches"], total.counts["process_pool_used"]) == (0, 0)


def test_recent_snapshot_reuses_what_evaluate_judged_while_it_is_fresh() -> None:
    health = WindowedHealth(load_config(), window_seconds=60)
    health.add_all(batch("a.log", "00000001", overloaded=True), at=10)
    health.evaluate(11)
    health.add_all(batch("a.log", "00000002", overloaded=True), at=11.5)
    fresh_enough = health.recent_snapshot(11.5, max_age=1.0)
    assert fresh_enough[-1].counts["batches"] == 1  # as judged at 11
    assert health.recent_snapshot(12.5, max_age=1.0)[-1].counts["batches"] == 2  # too old
    assert health.recent_snapshot(10.5, max_age=1.0)[-1].counts["batches"] == 2  # before it


def test_reasons_that_change_without_a_level_change_are_told() -> None:
    """A rule with a hold of its own holds from when its reason appeared: tail tells the
    consumers when the rules that fired change, though the level did not."""
    health = WindowedHealth(load_config(), window_seconds=60, bucket_seconds=10)
    for task in ("00000001", "00000002", "00000003"):
        health.add_all(batch("a.log", task, overloaded=False), at=1000)
    # one batch in four sequential for overload at 50 threads: yellow (sequential, 40-60)
    health.add_all([Event(Kind.BATCH, "a.log", 9, task_id="00000004"),
                    Event(Kind.OVERLOAD, "a.log", 10, number=50)], at=1000)
    assert {c.current for c in health.evaluate(1001)} == {Level.YELLOW}
    assert health.reasons_moved()
    assert health.evaluate(1002) == [] and not health.reasons_moved()
    # a thread-cleanup KeyError: yellow still, one more rule fired
    health.add(Event(Kind.THREAD_CLEANUP_KEYERROR, "a.log", 11), at=1003)
    assert health.evaluate(1004) == []
    assert health.reasons_moved()
    (_, total) = health.snapshot(1004)
    assert "thread-keyerror-yellow" in {reason.rule for reason in total.verdict.reasons}
    assert not health.reasons_moved()
