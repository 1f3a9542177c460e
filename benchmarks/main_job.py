"""The main job a newcomer runs, timed: ``genotx benchmark`` with no flags (every implemented task's
default model and trivial floor on its default split, seed 0) into a fresh folder, from the current
cache. Prints the per-task table (runs, seconds, primary metric) and the total against the 10-minute
target, with the machine's load average beside it (a shared machine inflates every time).

Run: ``.venv/bin/python benchmarks/main_job.py [--tasks a,b] [--seeds 0]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=None)
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args()
    genotx = Path(sys.executable).parent / "genotx"
    with tempfile.TemporaryDirectory() as out:
        command = [str(genotx), "benchmark", "--out", out, "--seeds", args.seeds]
        if args.tasks:
            command += ["--tasks", args.tasks]
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        sys.stdout.write(done.stdout)
        if done.returncode != 0:
            sys.stderr.write(done.stderr[-3000:])
            raise SystemExit(done.returncode)
        per_task: dict[str, float] = {}
        for line in done.stderr.splitlines():  # "done TASK MODEL SPLIT seed N: metric=... (S s)"
            if line.startswith("done "):
                task, secs = line.split()[1], float(line.rsplit("(", 1)[1].rstrip("s)"))
                per_task[task] = per_task.get(task, 0.0) + secs
    print(f"{'task':<28}{'seconds':>9}")
    for task, secs in sorted(per_task.items(), key=lambda kv: -kv[1]):
        print(f"{task:<28}{secs:9.1f}")
    verdict = "ok" if seconds <= TARGET_S else "MISSED"
    print(f"total wall time {seconds:.0f} s for {len(per_task)} tasks (target {TARGET_S} s: {verdict}); "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
