"""``report.html``: one table of all runs and, per task, plots; one self-contained file.

The report reads only run records (and their saved predictions); it never reruns anything.
"""

from __future__ import annotations

import logging
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from genotx.data.cache import atomic_write_text
from genotx.engine.records import ResultStore, RunRecord
from genotx.report import plots
from genotx.tasks.registry import get_task

log = logging.getLogger(__name__)

__all__ = ["write_report", "runs_table"]

_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>genotx benchmark report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left}
th{background:#f2f2f2} td.num{text-align:right;font-variant-numeric:tabular-nums}
.kind-real{color:#1a7f37}.kind-semi-synthetic{color:#9a6700}.kind-simulated{color:#cf222e}
.task{border-top:2px solid #ddd;margin-top:2em} img{margin:4px}
.note{color:#555;font-size:13px}
</style></head><body>
<h1>genotx benchmark report</h1>
<p class="note">{{ n_runs }} runs over {{ n_tasks }} tasks. Data kind: <span class="kind-real">real</span> =
measured data; <span class="kind-semi-synthetic">semi-synthetic</span> = known truth built from real parts;
<span class="kind-simulated">simulated</span> = generated. Metrics are pooled over the split's held-out rows;
&plusmn; is the standard deviation over folds where a split has several.</p>
<h2>All runs</h2>
{{ table|safe }}
{% for t in tasks %}
<div class="task"><h2>{{ t.number }}. {{ t.title }} <code>{{ t.name }}</code>
 <span class="kind-{{ t.data_kind }}">({{ t.data_kind }})</span></h2>
<p><b>Formulation:</b> {{ t.formulation }}<br><b>Stage:</b> {{ t.stage }} &middot; <b>primary metric:</b>
{{ t.metric }}{% if t.note %}<br><b>Data:</b> {{ t.note }}{% endif %}</p>
{% for img in t.images %}<img src="data:image/png;base64,{{ img }}" alt="plot">{% endfor %}
</div>
{% endfor %}
</body></html>"""
)


def runs_table(records: list[RunRecord]) -> pd.DataFrame:
    """One row per run: task, stage, data kind, model, split, seed, each metric, time."""
    rows = []
    for r in records:
        row = {"task": r.task, "stage": r.stage, "data_kind": r.data_kind, "model": r.model, "split": r.split,
               "seed": r.seed, "n_train": r.n_train, "n_test": r.n_test}
        for name, value in r.metrics.items():
            std = r.metrics_std.get(name)
            row[name] = f"{value:.3f}" + (f" ± {std:.3f}" if std is not None else "") if value == value else "nan"
        row["time_s"] = f"{r.wall_time_s:.1f}"
        rows.append(row)
    return pd.DataFrame(rows)


def _task_images(store: ResultStore, task_records: list[RunRecord]) -> list[str]:
    spec = get_task(task_records[0].task).spec
    metric = spec.primary_metric
    table = pd.DataFrame(
        [{"model": r.model, "split": r.split, metric: r.metrics.get(metric, np.nan), "std": r.metrics_std.get(metric, 0.0)} for r in task_records]
    )
    figures = [plots.metric_bars(table, metric, f"{spec.name}: {metric}")]
    default = next((r for r in task_records if r.model == spec.default_model and r.split == spec.default_split), task_records[0])
    predictions = store.load_predictions(default.key)
    if predictions is not None and {"y_true", "y_pred"} <= set(predictions.columns):
        title = f"{default.model} / {default.split}"
        if spec.target == "binary":
            figures.append(plots.roc(predictions, title))
        elif spec.target == "regression":
            figures.append(plots.predicted_vs_true(predictions, title))
    for key in default.details or {}:
        if key in plots.DETAIL_PLOTS:
            try:
                figures.extend(plots.DETAIL_PLOTS[key](default.details))
            except (KeyError, TypeError, ValueError) as err:  # a plot never costs the whole report
                log.warning("%s: no %r plot (%s: %s)", default.key, key, type(err).__name__, err)
    return [plots.figure_png(fig) for fig in figures]


def write_report(out: str | Path) -> Path:
    """Write ``out/report.html`` from the run records in ``out``; returns its path."""
    store = ResultStore(out)
    records = sorted(store.records(), key=lambda r: (get_task(r.task).spec.number, r.split, r.model, r.seed))
    table = runs_table(records)
    tasks = []
    for name in dict.fromkeys(r.task for r in records):
        spec = get_task(name).spec
        task_records = [r for r in records if r.task == name]
        tasks.append({
            "name": name, "number": spec.number, "title": spec.title, "formulation": spec.formulation,
            "stage": spec.stage, "data_kind": task_records[0].data_kind, "metric": spec.primary_metric,
            "note": spec.data_note, "images": _task_images(store, task_records),
        })
    page = _TEMPLATE.render(
        n_runs=len(records), n_tasks=len(tasks), tasks=tasks,
        table=table.to_html(index=False, escape=True, border=0, na_rep="") if len(table) else "<p>No runs yet.</p>",
    )
    return atomic_write_text(Path(out) / "report.html", page)


