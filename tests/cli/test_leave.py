"""``leave``: the process ends with the command's code, its output whole, its atexit handlers
run, and the ordinary way is taken wherever the fast way could differ. Each case runs in a real
child process (``os._exit`` would end the test run)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest


def child(body: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    code = "from threadwatch.cli.leave import leave\n" + textwrap.dedent(body)
    # stdout buffered, as for an operator's shell, so that leave is what flushes it
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run([sys.executable, "-c", code], text=True, timeout=60, check=False,
                          env=env, **kwargs)  # type: ignore[call-overload]


def test_the_exit_code_and_all_output_survive() -> None:
    result = child("""
        import sys
        sys.stdout.write("x" * 1_000_000 + "\\n")  # more than any buffer
        print("last", file=sys.stderr)
        leave(SystemExit(2))
    """, capture_output=True)
    assert result.returncode == 2
    assert result.stdout == "x" * 1_000_000 + "\n"
    assert result.stderr == "last\n"


def test_no_code_is_success() -> None:
    assert child("leave(SystemExit(None))").returncode == 0


def test_atexit_handlers_run_and_what_they_print_is_kept() -> None:
    result = child("""
        import atexit
        atexit.register(print, "goodbye")
        print("work")
        leave(SystemExit(1))
    """, capture_output=True)
    assert (result.returncode, result.stdout) == (1, "work\ngoodbye\n")


def test_finalization_is_skipped() -> None:
    # an object's finalizer at interpreter teardown is what leave saves the time of
    result = child("""
        class Late:
            def __del__(self):
                print("finalized")
        kept = Late()
        leave(SystemExit(0))
    """, capture_output=True)
    assert (result.returncode, result.stdout) == (0, "")


def test_a_message_as_exit_code_goes_the_ordinary_way() -> None:
    result = child('leave(SystemExit("bad things"))', capture_output=True)
    assert (result.returncode, result.stderr) == (1, "bad things\n")


def test_a_live_thread_is_waited_for() -> None:
    result = child("""
        import threading, time
        def later():
            time.sleep(0.3)
            print("thread done")
        threading.Thread(target=later).start()
        leave(SystemExit(3))
    """, capture_output=True)
    assert (result.returncode, result.stdout) == (3, "thread done\n")


@pytest.mark.parametrize("ending", ["leave(SystemExit(2))", "raise SystemExit(2)"])
def test_a_reader_gone_is_reported_as_python_does(ending: str) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader went away before the output was flushed
    try:
        result = child(f"""
            print("report")
            {ending}
        """, stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    # both the fast and the ordinary way: Python's own "Exception ignored" and code 120
    assert result.returncode == 120
    assert "BrokenPipeError" in result.stderr



@pytest.mark.parametrize(("closed", "other"), [("1", "stderr"), ("2", "stdout")])
def test_a_stream_closed_from_the_start_is_no_error(closed: str, other: str) -> None:
    # `threadwatch report >&-`: Python starts with that stream None, which has nothing to flush
    code = textwrap.dedent(f"""
        import sys
        from threadwatch.cli.leave import leave
        print("kept", file=sys.{other})
        leave(SystemExit(2))
    """)
    result = subprocess.run(["sh", "-c", f'exec "$0" -c "$1" {closed}>&-', sys.executable, code],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result
    assert getattr(result, other) == "kept\n"
