"""Write a large run_batt log in run_batt's real line formats (docs/messages.md), deterministically.

Usage: python benchmarks/generate_log.py OUT [--mb 160] [--seed 7]

Each round: a ``date`` line, ``Running:``/``Generating batt:`` lines, then tasks. A task prints
its start, chatter from ``utils.py``/``card.py``, its batch line, samples (from the main process
or ``<dynamic-code>`` workers, occasionally timed out or failed), solver matches, scored/done.
A share of batches is overloaded or falls back. Rounds end with a summary and cache statistics;
one round in ten is cut off mid-task like a run killed by its timeout. Two messages are
sometimes glued onto one physical line, as concurrent prints do.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def task_lines(rng: random.Random, task: int) -> list[str]:
    tid = f"{rng.getrandbits(32):08x}"
    lines = [f"run_batt.py:831: -- {tid} - {task} start --"]
    lines += [
        f"utils.py:{rng.randint(40, 400)}: loading {tid} grid {k}" for k in range(rng.randint(1, 4))
    ]
    lines.append(f"run_batt.py:475: -- {tid} - {task} --")
    roll = rng.random()
    worker = "<dynamic-code>"
    if roll < 0.08:
        lines.append(
            f"run_batt.py:566: -- System overloaded ({rng.randint(41, 90)} threads),"
            " using sequential processing"
        )
        worker = "run_batt.py"
    elif roll < 0.10:
        lines.append(
            "run_batt.py:601: -- ProcessPoolExecutor failed (OSError: [Errno 12] Cannot"
            " allocate memory), trying ThreadPoolExecutor"
        )
        worker = "run_batt.py"
    samples = [("demo", k) for k in range(rng.randint(2, 5))] + [
        ("test", k) for k in range(rng.randint(1, 2))
    ]
    for kind, k in samples:
        outcome = rng.random()
        if outcome < 0.03:
            lines.append(f"run_batt.py:445: -- {tid} - {kind}[{k}] timed out")
        elif outcome < 0.04:
            lines.append(f"{worker}:451: -- {tid} - {kind}[{k}] failed: KeyError: 5")
        else:
            lines.append(f"{worker}:512: {kind}[{k}] - {tid} - {rng.randint(0, 9)}")
    for _ in range(rng.randint(2, 30)):
        lines.append(f"run_batt.py:702: - o_solver_id = '{rng.getrandbits(32):08x}' - match = True")
        if rng.random() < 0.5:
            lines.append(
                f"card.py:212: candidate {rng.getrandbits(24):06x} size {rng.randint(1, 30)}"
            )
    lines.append(f"run_batt.py:890: -- {tid} - {task} scored --")
    lines.append(
        f"run_batt.py:902: -- {tid} - {task} done - {rng.randint(1, 40)} candidates scored"
    )
    if rng.random() < 0.01 and len(lines) > 3:  # two prints glued, the newline landing later
        i = rng.randrange(1, len(lines) - 1)
        lines[i : i + 2] = [lines[i] + lines[i + 1], ""]
    return lines


def write_log(path: Path, megabytes: int, seed: int) -> int:
    """Write about ``megabytes`` MB; return the number of lines."""
    rng = random.Random(seed)
    target = megabytes * 1_000_000
    written = 0
    count = 0
    with path.open("w", encoding="ascii", newline="\n") as out:
        while written < target:
            chunk = [
                f"{rng.choice(DAYS)} {rng.choice(MONTHS)} {rng.randint(1, 28):2d} "
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
                " UTC 2026",
                "Generating batt: solver module batt_tmp.py",
                "Running: python run_batt.py -i 400 -t 0.1",
            ]
            killed = rng.random() < 0.1
            tasks = rng.randint(50, 400)
            for task in range(tasks):
                lines = task_lines(rng, task)
                if killed and task == tasks - 1:
                    lines = lines[
                        : lines.index(
                            next(x for x in lines if x.endswith(" --") and "start" not in x)
                        )
                        + 1
                    ]
                chunk += lines
            if not killed:
                chunk += [
                    f"{tasks} tasks - {tasks} timeouts",
                    "=== Cache Statistics ===",
                    f"hits: {rng.randint(0, 9999)}",
                    f"misses: {rng.randint(0, 999)}",
                ]
            text = "\n".join(chunk) + "\n"
            out.write(text)
            written += len(text)
            count += len(chunk)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--mb", type=int, default=160)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    lines = write_log(args.out, args.mb, args.seed)
    print(f"wrote {args.out}: {args.out.stat().st_size / 1e6:.0f} MB, {lines} lines")


if __name__ == "__main__":
    main()
