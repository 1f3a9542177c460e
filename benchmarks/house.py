"""House speed targets, measured in one run (issue 9 "Must hold"):

* ``genotx list`` and ``get_task(x)`` under 1 s (task discovery reads SPECs without importing any
  model library), printed beside a bare ``python -c pass`` start-up measured in the same run;
* a second ``genotx predict`` at least 5x faster than the first (the model is trained once and
  cached; the second call only checks and loads it).

Run: ``.venv/bin/python benchmarks/house.py [--tasks drug_response,crispr_on_target]``. Needs the
tasks' data in the cache (``genotx fetch TASK``); fitted models of the measured tasks are removed
first so that the first predict trains.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _seconds(command: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def startup() -> None:
    bare = _seconds([sys.executable, "-c", "pass"])
    listing = _seconds([str(BIN / "genotx"), "list"])
    lookup = _seconds([sys.executable, "-c", "import genotx; genotx.get_task('mendelian_randomization').spec"])
    print(f"python -c pass           {bare:6.2f} s")
    print(f"genotx list              {listing:6.2f} s  (target < 1 s: {'ok' if listing < 1 else 'MISSED'})")
    print(f"import + get_task(MR)    {lookup:6.2f} s  (target < 1 s: {'ok' if lookup < 1 else 'MISSED'})")


def predict_twice(task_name: str) -> None:
    import genotx
    from genotx.data.cache import genotx_home

    task = genotx.get_task(task_name)
    for path in (genotx_home() / "models").glob(f"{task_name}__*"):
        path.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        rows = task.load().inputs.head(50)
        source = Path(tmp) / "input.csv"
        rows.to_csv(source, index=False)
        times = []
        for i in range(2):
            start = time.perf_counter()
            subprocess.run([str(BIN / "genotx"), "predict", task_name, "--input", str(source), "--out", str(Path(tmp) / f"out{i}.csv")],
                           check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    ratio = times[0] / times[1]
    print(f"predict {task_name:<18} first {times[0]:6.1f} s, second {times[1]:5.1f} s, ratio {ratio:5.1f}x "
          f"(target >= 5x: {'ok' if ratio >= 5 else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="drug_response,crispr_on_target")
    args = parser.parse_args()
    startup()
    for name in args.tasks.split(","):
        predict_twice(name.strip())


if __name__ == "__main__":
    main()
