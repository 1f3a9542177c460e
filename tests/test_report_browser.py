"""The report in a real browser: headless Debian Chromium driven by playwright (never a downloaded browser).

The page loads from disk with no network request and no console error, every plot is an image with
non-blank pixels, and the leaderboard sorts when its header is clicked, at 1280 px wide.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:  # the project installs its own test browser (Debian package) where it can
        done = subprocess.run(["bash", str(ROOT / "scripts" / "install_browser.sh")], capture_output=True, text=True)
        path = shutil.which("chromium")
        if path is None:
            pytest.skip(f"Debian chromium could not be installed: {done.stderr.strip()[-300:]}")
    return path


def test_report_renders_in_a_real_browser(chromium, toy_task, toy_shift_result, tmp_path):
    pytest.importorskip("playwright")
    from matplotlib import image
    from playwright.sync_api import sync_playwright

    import genotx
    from genotx.engine.records import ResultStore
    from genotx.report.html import write_report

    from genotx.challenges.shift import save_shift

    store = ResultStore(tmp_path)
    for seed in (0, 1):
        for model in ("ridge", "mean"):
            record, outcome = genotx.run(toy_task, model=model, split="cold_entity", seed=seed)
            store.write(record, outcome.predictions)
    save_shift(toy_shift_result, tmp_path)  # an open-problem section with its own plots
    report = write_report(tmp_path)
    requests, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        plots = page.query_selector_all("img.plot")
        assert len(plots) >= 4 and len(page.query_selector_all(".challenge img.plot")) == 2
        for plot in plots:
            assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", plot)
            pixels = image.imread(io.BytesIO(plot.screenshot()), format="png")[..., :3]
            assert pixels.std() > 0.02, "a blank plot"  # drawn, not a white box
        table = page.query_selector("#toy_regression > table.sortable")
        box = table.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1280  # readable without scrolling sideways
        first_column = lambda: page.eval_on_selector_all(  # noqa: E731
            "#toy_regression > table.sortable tbody tr", "rows => rows.map(r => r.cells[0].textContent)")
        page.click("#toy_regression > table.sortable th:nth-child(1)")
        ascending = first_column()
        page.click("#toy_regression > table.sortable th:nth-child(1)")
        assert first_column() == sorted(ascending, reverse=True) and ascending == sorted(ascending)
        browser.close()
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
