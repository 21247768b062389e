"""``handle_signals``: what SIGINT, SIGTERM and SIGHUP do to a running tail."""

from __future__ import annotations

import os
import signal
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
