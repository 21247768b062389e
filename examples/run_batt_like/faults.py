"""Faults the tests inject, each as run_batt meets it for real; chosen by ``BATT_FAULT``.

=====================  =========================================================================
``BATT_FAULT``         what happens
=====================  =========================================================================
``kill_worker@<i>``    task ``i``'s ``demo[0]`` SIGKILLs the worker process running it (as the
                       kernel's OOM killer would); in the program's own process it runs normally
``memory@<i>``         task ``i``'s ``demo[0]`` asks for 16 GiB: a ``MemoryError`` under
                       ``ulimit -v`` (the tests set it)
``slow@<i>``           task ``i``'s ``demo[0]`` hangs for 60 s (the tests send SIGTERM meanwhile)
``pool_creation``      every loky process pool fails to start (``OSError`` EAGAIN, as under a
                       process limit)
``overload``           45 idle threads are alive from the start (more than 40)
=====================  =========================================================================
"""

from __future__ import annotations

import os
import signal
import threading
import time

FAULT, _, _AT = os.environ.get("BATT_FAULT", "").partition("@")
FAULT_TASK = int(_AT) if _AT.isdigit() else -1


def sample_fault(task_i: int, sample_type: str, index: int) -> str:
    """The fault of one sample (``""`` for none)."""
    if FAULT in ("kill_worker", "memory", "slow") and (task_i, sample_type, index) == (
        FAULT_TASK,
        "demo",
        0,
    ):
        return FAULT
    return ""


def apply_sample_fault(fault: str, main_pid: int) -> None:
    """Run in ``score_sample``, where the sample runs (a worker process, a thread, or inline)."""
    if fault == "kill_worker" and os.getpid() != main_pid:
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == "memory":
        bytearray(16 << 30)
    elif fault == "slow":
        time.sleep(60)


def start_program_faults() -> None:
    """Faults of the whole program, set up once by its main()."""
    if FAULT == "overload":
        release = threading.Event()
        for index in range(45):
            threading.Thread(target=release.wait, name=f"idle-{index}", daemon=True).start()
    elif FAULT == "pool_creation":
        import loky  # noqa: PLC0415  # only this fault needs it here

        def refuse(self: object, *args: object, **kwargs: object) -> None:
            raise OSError(11, "Resource temporarily unavailable")

        loky.ProcessPoolExecutor.__init__ = refuse  # type: ignore[method-assign]
