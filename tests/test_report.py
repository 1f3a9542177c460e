"""Report plots are figures; the HTML report embeds them and reads only run records."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from genotx.report import plots
from genotx.report.html import write_report


def test_plots_return_figures_and_encode_to_png():
    rng = np.random.default_rng(0)
    predictions = pd.DataFrame({"y_true": rng.integers(0, 2, 50), "y_pred": rng.random(50)})
    figures = [plots.roc(predictions, "roc"), plots.predicted_vs_true(predictions, "scatter"),
               plots.metric_bars(pd.DataFrame({"model": ["a", "b"], "split": ["s", "s"], "auroc": [0.7, 0.5]}), "auroc", "bars")]
    assert all(isinstance(f, Figure) for f in figures)
    png = plots.figure_png(figures[0])
    assert png.startswith("iVBOR")  # base64 of the PNG signature


def test_report_from_toy_runs(toy_task, tmp_path):
    import genotx
    from genotx.engine.records import ResultStore

    store = ResultStore(tmp_path)
    for model in ("ridge", "mean"):
        record, outcome = genotx.run(toy_task, model=model, split="cold_entity")
        store.write(record, outcome.predictions)
    page = write_report(tmp_path).read_text()
    assert page.count("data:image/png;base64,") >= 2 and "toy_regression" in page


def test_report_draws_a_section_per_challenge_result_and_flags_a_damaged_one(toy_shift_result, tmp_path):
    from genotx.challenges.shift import save_shift
    from genotx.report.html import challenge_sections

    save_shift(toy_shift_result, tmp_path)
    (tmp_path / "challenges" / "broken.json").write_text('{"challenge": "no_such_tool"}')
    sections = challenge_sections(tmp_path)
    assert [s["title"].startswith("Distribution shift") for s in sections] == [False, True]  # sorted by file name
    shift = sections[1]
    assert "+0.3000" in shift["summary"]  # the gap 0.8 - 0.5, the same on every seed
    assert "narrows" in shift["summary"] and len(shift["images"]) == 2 and shift["tables"]
    assert "could not be drawn" in sections[0]["title"]
    page = write_report(tmp_path).read_text()  # challenge results alone make a report
    assert "Distribution shift: drug_response (cold_tissue)" in page and "broken.json" in page
