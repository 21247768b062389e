"""``handle_signals``: what SIGINT, SIGTERM and SIGHUP do to a running tail."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest

from threadwatch.live.loop import Tail
from threadwatch.live.service import handle_signals


class Asked:
    """Records what the handlers ask of a tail (the two requests a signal may make)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def stop(self) -> None:
        self.asked.append("stop")

    def request_reload(self) -> None:
        self.asked.append("reload")


@pytest.mark.parametrize(("hang_up_stops", "on_hup"), [(False, "reload"), (True, "stop")])
def test_sighup_reloads_a_service_and_stops_a_tail_on_a_terminal(
        hang_up_stops: bool, on_hup: str) -> None:
    tail = Asked()
    before = signal.getsignal(signal.SIGHUP)
    with handle_signals(cast(Tail, tail), hang_up_stops=hang_up_stops):
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            os.kill(os.getpid(), sig)  # handled before kill returns (this is the main thread)
    assert tail.asked == [on_hup, "stop", "stop"]
    assert signal.getsignal(signal.SIGHUP) == before  # the handlers are put back


# The loop runs in the main thread, where Python runs signal handlers: between two bytecodes of
# the loop's own code, which may be inside the waker's threading.Event (wait() and clear() hold
# its lock for a few bytecodes at each step). The child holds that lock when SIGTERM arrives.
SIGNAL_INSIDE_THE_WAKER = """
import os, signal, sys
from pathlib import Path
from threadwatch.config import load_config
from threadwatch.live.loop import Tail, TailOptions
from threadwatch.live.service import handle_signals

folder = Path(sys.argv[1])
tail = Tail([str(folder)], load_config(None), TailOptions(state_path=folder / "state.db"))

class SignalInsideTheWaker:
    kinds = frozenset()
    def on_events(self, events, at): pass
    def on_changes(self, changes, health): pass
    def tick(self, now):
        with tail._waker._event._cond:
            os.kill(os.getpid(), signal.SIGTERM)  # handled before kill returns
    def close(self): pass

with handle_signals(tail):
    tail.run([SignalInsideTheWaker()])
print("stopped")
"""


def test_a_signal_that_arrives_inside_the_loops_wait_stops_it(tmp_path: Path) -> None:
    # the handler must not take the lock the interrupted loop holds: it would wait for ever
    try:
        done = subprocess.run([sys.executable, "-c", SIGNAL_INSIDE_THE_WAKER, str(tmp_path)],
                              capture_output=True, text=True, timeout=15, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("the SIGTERM handler deadlocked on the waker's lock")
    assert (done.returncode, done.stdout) == (0, "stopped\n"), done.stderr
