"""The thread-cleanup guard in this process: install/uninstall semantics and what it swallows."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from threadwatch.guard import (
    cleanup,
    install_thread_cleanup_guard,
    is_thread_cleanup_guard_installed,
    suppressed_count,
    suppressed_records,
    thread_cleanup_guard,
    uninstall_thread_cleanup_guard,
)

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="the guard is a no-op < 3.11")

PYTHON = "{}.{}.{}".format(*sys.version_info[:3])


@pytest.fixture(autouse=True)
def original_delete() -> Iterator[Callable[[threading.Thread], None]]:
    """The unwrapped Thread._delete; put back after every test whatever the test did."""
    original = threading.Thread._delete  # type: ignore[attr-defined]
    yield original
    uninstall_thread_cleanup_guard()
    threading.Thread._delete = original  # type: ignore[attr-defined]


def _raising(error: BaseException) -> Callable[[threading.Thread], None]:
    def delete(self: threading.Thread) -> None:
        raise error

    return delete


def test_install_wraps_and_uninstall_restores_the_original(
    original_delete: Callable[[threading.Thread], None],
) -> None:
    assert install_thread_cleanup_guard() is True
    assert threading.Thread._delete is not original_delete  # type: ignore[attr-defined]
    assert is_thread_cleanup_guard_installed()
    assert uninstall_thread_cleanup_guard() is True
    assert threading.Thread._delete is original_delete  # type: ignore[attr-defined]
    assert not is_thread_cleanup_guard_installed()


def test_install_is_idempotent() -> None:
    install_thread_cleanup_guard()
    wrapper = threading.Thread._delete  # type: ignore[attr-defined]
    assert install_thread_cleanup_guard() is True
    assert threading.Thread._delete is wrapper  # type: ignore[attr-defined]


def test_uninstall_without_install_changes_nothing(
    original_delete: Callable[[threading.Thread], None],
) -> None:
    assert uninstall_thread_cleanup_guard() is False
    assert threading.Thread._delete is original_delete  # type: ignore[attr-defined]


def test_uninstall_leaves_a_later_wrapper_in_place() -> None:
    install_thread_cleanup_guard()
    ours = threading.Thread._delete  # type: ignore[attr-defined]

    def theirs(self: threading.Thread) -> None:
        ours(self)

    threading.Thread._delete = theirs  # type: ignore[attr-defined]
    assert uninstall_thread_cleanup_guard() is False
    assert threading.Thread._delete is theirs  # type: ignore[attr-defined]


def test_concurrent_installs_wrap_once() -> None:
    barrier = threading.Barrier(8)

    def install() -> None:
        barrier.wait()
        install_thread_cleanup_guard()

    threads = [threading.Thread(target=install) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wrapper = threading.Thread._delete  # type: ignore[attr-defined]
    assert uninstall_thread_cleanup_guard() is True
    assert getattr(wrapper, "__wrapped__", None) is threading.Thread._delete  # type: ignore[attr-defined]


def test_context_manager_removes_only_what_it_installed(
    original_delete: Callable[[threading.Thread], None],
) -> None:
    with thread_cleanup_guard() as installed:
        assert installed is True
        with thread_cleanup_guard():
            pass
        assert is_thread_cleanup_guard_installed()
    assert threading.Thread._delete is original_delete  # type: ignore[attr-defined]


def test_keyerror_of_own_ident_is_swallowed_recorded_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="threadwatch.guard")
    ident = threading.get_ident()
    delete = cleanup._make_wrapper(_raising(KeyError(ident)))
    before = suppressed_count()
    delete(threading.current_thread())
    assert suppressed_count() == before + 1
    assert suppressed_records()[-1] == ("MainThread", "started", ident, PYTHON)
    assert caplog.messages[-1] == (
        f'threadwatch-guard event=thread_cleanup_suppressed thread="MainThread" status=started '
        f"ident={ident} python={PYTHON}"
    )


@pytest.mark.parametrize(
    "error",
    [KeyError("x"), KeyError(12345), KeyError(), RuntimeError("other")],
    ids=["str-key", "other-ident", "no-key", "not-keyerror"],
)
def test_every_other_error_propagates_unchanged(error: BaseException) -> None:
    delete = cleanup._make_wrapper(_raising(error))
    before = suppressed_count()
    with pytest.raises(type(error)) as raised:
        delete(threading.current_thread())
    assert raised.value is error
    assert suppressed_count() == before


def test_normal_threads_end_cleanly_under_the_guard() -> None:
    before = suppressed_count()
    with thread_cleanup_guard():
        threads = [threading.Thread(target=lambda: None) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert suppressed_count() == before
    assert not any(thread in threading.enumerate() for thread in threads)


def test_real_teardown_of_unregistered_thread_is_suppressed_without_dummy_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A thread missing from threading._active (as after a fork) ends: the real KeyError is
    swallowed, and logging it does not leave a _DummyThread behind (logging asks
    current_thread(), which would create one for an unregistered thread)."""
    caplog.set_level(logging.WARNING, logger="threadwatch.guard")

    def unregister_self() -> None:
        with threading._active_limbo_lock:  # type: ignore[attr-defined]
            del threading._active[threading.get_ident()]  # type: ignore[attr-defined]

    thread = threading.Thread(target=unregister_self, name="unregistered")
    before = suppressed_count()
    with thread_cleanup_guard():
        thread.start()
        thread.join()
    assert suppressed_count() == before + 1
    assert suppressed_records()[-1][:3] == ("unregistered", "started", thread.ident)
    (record,) = [r for r in caplog.records if "thread_cleanup_suppressed" in r.getMessage()]
    assert record.threadName == "unregistered"
    assert [t.name for t in threading.enumerate() if t.name.startswith("Dummy")] == []
