"""``report.html``: one self-contained page (no network request) built only from run records.

Sections: a summary of every task (default model beside the field's reference method, the trivial
floor and the published anchor; mean ± std over seeds; data kind badge); per task a sortable leaderboard (every model x split), plots drawn from the records and
saved predictions (metric bars, predicted vs true or ROC, and the task's own detail plots such as
Kaplan-Meier curves or MR scatter), and the provenance of its runs (data sha256, versions, seeds,
time); then one section per open-problem result found in ``<out>/challenges/*.json`` (distribution
shift, few examples, fairness, privacy, interpretation: each drawn by its challenge module's
``report_section``); then every run in one table. The report never reruns anything.
"""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from genotx.data.cache import atomic_write_text
from genotx.engine.records import ResultStore, RunRecord, leaderboard
from genotx.report import plots
from genotx.tasks.registry import get_task

log = logging.getLogger(__name__)

__all__ = ["write_report", "runs_table", "challenge_sections"]

_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>genotx benchmark report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1240px;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:.6em 0}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left} th{background:#f2f2f2;cursor:pointer;user-select:none}
td.num{text-align:right;font-variant-numeric:tabular-nums} tr.trivial td{color:#777}
.badge{border-radius:4px;padding:1px 6px;font-size:12px;color:#fff}
.kind-real{background:#1a7f37}.kind-semi-synthetic{background:#9a6700}.kind-simulated{background:#cf222e}
.task{border-top:2px solid #ddd;margin-top:2em} .plots{display:flex;flex-wrap:wrap;gap:6px}
.plot{border:1px solid #eee} .note{color:#555;font-size:13px} details{margin:.5em 0}
code{font-size:12px}
</style></head><body>
<h1>genotx benchmark report</h1>
<p class="note">{{ n_runs }} runs over {{ n_tasks }} tasks. Data kind:
<span class="badge kind-real">real</span> measured data;
<span class="badge kind-semi-synthetic">semi-synthetic</span> known truth built from real parts;
<span class="badge kind-simulated">simulated</span> generated. Numbers are means over seeds &plusmn;
standard deviation over seeds (when a run has several folds, its metric is pooled over the folds'
held-out rows). Click a column header to sort.</p>
<h2>Summary</h2>
{{ summary|safe }}
{% for t in tasks %}
<div class="task" id="{{ t.name }}"><h2>{{ t.number }}. {{ t.title }} <code>{{ t.name }}</code>
 <span class="badge kind-{{ t.data_kind }}">{{ t.data_kind }}</span></h2>
<p><b>Formulation:</b> {{ t.formulation }}<br><b>Stage:</b> {{ t.stage }} &middot; <b>primary metric:</b>
{{ t.metric }} &middot; <b>trivial floor:</b> {{ t.trivial or "none" }}{% if t.reference %} &middot; <b>field's reference
method:</b> {{ t.reference }}{% endif %}{% if t.anchor %}<br><b>Published anchor:</b> {{ t.anchor }}{% endif %}{% if t.note %}<br><b>Data:</b> {{ t.note }}{% endif %}</p>
{{ t.board|safe }}
<div class="plots">{% for img in t.images %}<img class="plot" src="data:image/png;base64,{{ img }}" alt="{{ t.name }} plot {{ loop.index }}">{% endfor %}</div>
<details><summary>Provenance of {{ t.n_runs }} run(s)</summary>{{ t.provenance|safe }}</details>
</div>
{% endfor %}
{% if challenges %}<h2 id="challenges">Open problems: shift, few examples, fairness, privacy, interpretation</h2>
{% for c in challenges %}
<div class="task challenge" id="challenge-{{ loop.index }}"><h3>{{ c.title }} <span class="badge kind-{{ c.data_kind }}">{{ c.data_kind }}</span></h3>
<p>{{ c.summary }}</p>{% if c.note %}<p class="note">{{ c.note }}</p>{% endif %}
{% for caption, table in c.tables %}<p class="note">{{ caption }}</p>{{ table|safe }}{% endfor %}
<div class="plots">{% for img in c.images %}<img class="plot" src="data:image/png;base64,{{ img }}" alt="{{ c.title }} plot {{ loop.index }}">{% endfor %}</div>
</div>
{% endfor %}{% endif %}
<h2>All runs</h2>
<details><summary>{{ n_runs }} runs</summary>{{ table|safe }}</details>
<script>
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0], index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var rows = Array.prototype.slice.call(body.rows), asc = th.dataset.asc !== "1";
    rows.sort(function (a, b) {
      var x = a.cells[index].textContent, y = b.cells[index].textContent, fx = parseFloat(x), fy = parseFloat(y);
      var c = (!isNaN(fx) && !isNaN(fy)) ? fx - fy : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    th.dataset.asc = asc ? "1" : "0";
  });
});
</script>
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


def _html(frame: pd.DataFrame, *, trivial_rows: np.ndarray | None = None) -> str:
    html = frame.to_html(index=False, escape=True, border=0, na_rep="", classes="sortable")
    if trivial_rows is not None:  # grey out the trivial floor's rows
        lines, out, row = html.split("\n"), [], -1
        for line in lines:
            if line.strip() == "<tr>" and row >= -1:
                row += 1
                if row > 0 and trivial_rows[row - 1]:
                    line = line.replace("<tr>", '<tr class="trivial">')
            out.append(line)
        html = "\n".join(out)
    return html


def _mean_std(mean: float, std: float, n: int) -> str:
    if mean != mean:
        return "nan"
    return f"{mean:.3f}" + (f" ± {std:.3f}" if n > 1 else "")


def _board(task_records: list[RunRecord], spec) -> tuple[str, pd.DataFrame]:
    board = leaderboard(task_records, metric=spec.primary_metric)
    metrics = [m for m in spec.metrics if f"{m}_mean" in board][:5]
    frame = pd.DataFrame({"model": board["model"], "split": board["split"], "seeds": board["n_seeds"]})
    for m in metrics:
        frame[m] = [_mean_std(a, b, n) for a, b, n in zip(board[f"{m}_mean"], board[f"{m}_std"], board["n_seeds"])]
    return _html(frame, trivial_rows=(board["model"] == spec.trivial).to_numpy()), board


def _provenance(task_records: list[RunRecord]) -> str:
    rows = []
    for r in task_records:
        sources = r.provenance.get("sources", {})
        digests = "; ".join(f"{s}: " + ", ".join(f"{k} {v[:12]}" for k, v in files.items()) for s, files in sources.items())
        versions = r.provenance.get("versions", {})
        rows.append({"run": r.key, "data sha256": digests or "-", "genotx": versions.get("genotx", ""),
                     "python": versions.get("python", ""), "seconds": f"{r.wall_time_s:.1f}"})
    return _html(pd.DataFrame(rows))


def _task_images(store: ResultStore, task_records: list[RunRecord], board: pd.DataFrame, spec) -> list[str]:
    metric = spec.primary_metric
    figures = []
    if f"{metric}_mean" in board:
        table = pd.DataFrame({"model": board["model"], "split": board["split"], metric: board[f"{metric}_mean"],
                              "std": board[f"{metric}_std"].fillna(0.0)})
        figures.append(plots.metric_bars(table, metric, f"{spec.name}: {metric}"))
    default = next((r for r in task_records if r.model == spec.default_model and r.split == spec.default_split), task_records[0])
    predictions = store.load_predictions(default.key)
    if predictions is not None and {"y_true", "y_pred"} <= set(predictions.columns):
        title = f"{default.model} / {default.split}"
        try:
            if spec.target == "binary":
                figures.append(plots.roc(predictions, title))
            elif spec.target == "regression" and np.issubdtype(predictions["y_pred"].dtype, np.number):
                figures.append(plots.predicted_vs_true(predictions, title))
        except (TypeError, ValueError) as err:  # a plot never costs the whole report
            log.warning("%s: no prediction plot (%s)", default.key, err)
    for key in default.details or {}:
        if key in plots.DETAIL_PLOTS:
            try:
                figures.extend(plots.DETAIL_PLOTS[key](default.details))
            except (KeyError, TypeError, ValueError) as err:  # a plot never costs the whole report
                log.warning("%s: no %r plot (%s: %s)", default.key, key, type(err).__name__, err)
    return [plots.figure_png(fig) for fig in figures]


def _summary(records: list[RunRecord], names: list[str]) -> str:
    rows = []
    board = leaderboard(records)
    for name in names:
        spec = get_task(name).spec
        metric = spec.primary_metric
        mine = board[(board["task"] == name) & (board["split"] == spec.default_split)]

        def cell(model, mine=mine, metric=metric):
            row = mine[mine["model"] == model]
            if row.empty or f"{metric}_mean" not in row:
                return ""
            return _mean_std(row[f"{metric}_mean"].iloc[0], row[f"{metric}_std"].iloc[0], int(row["n_seeds"].iloc[0]))

        kind = next(r.data_kind for r in records if r.task == name)
        rows.append({"#": spec.number, "task": name, "data kind": kind, "split": spec.default_split, "metric": metric,
                     "default model": f"{spec.default_model} {cell(spec.default_model)}",
                     "field's reference": f"{spec.reference} {cell(spec.reference)}" if spec.reference else "-",
                     "trivial floor": f"{spec.trivial} {cell(spec.trivial)}" if spec.trivial else "-",
                     "published anchor": spec.anchor or "-"})
    return _html(pd.DataFrame(rows))


def challenge_sections(out: str | Path) -> list[dict]:
    """One rendered section per ``<out>/challenges/*.json``, drawn by ``genotx.challenges.<name>.report_section``.

    A result that cannot be drawn (an unknown tool, a damaged file) is shown as such, never dropped
    silently and never costs the whole report.
    """
    sections = []
    for path in sorted((Path(out) / "challenges").glob("*.json")):
        try:
            payload = json.loads(path.read_text())
            module = importlib.import_module(f"genotx.challenges.{payload['challenge']}")
            section = module.report_section(payload)
        except Exception as err:  # noqa: BLE001 - any damaged or foreign file becomes a visible note
            log.warning("%s: not shown in the report (%s: %s)", path, type(err).__name__, err)
            sections.append({"title": f"{path.name}: could not be drawn", "data_kind": "unknown", "note": "",
                             "summary": f"{type(err).__name__}: {err}", "tables": [], "images": []})
            continue
        sections.append({"title": section.title, "data_kind": section.data_kind, "summary": section.summary, "note": section.note,
                         "tables": [(caption, _html(table)) for caption, table in section.tables],
                         "images": [plots.figure_png(fig) for fig in section.figures]})
    return sections


def write_report(out: str | Path) -> Path:
    """Write ``out/report.html`` from the run records in ``out``; returns its path."""
    store = ResultStore(out)
    records = sorted(store.records(), key=lambda r: (get_task(r.task).spec.number, r.split, r.model, r.seed))
    names = list(dict.fromkeys(r.task for r in records))
    tasks = []
    for name in names:
        spec = get_task(name).spec
        task_records = [r for r in records if r.task == name]
        board_html, board = _board(task_records, spec)
        tasks.append({
            "name": name, "number": spec.number, "title": spec.title, "formulation": spec.formulation,
            "stage": spec.stage, "data_kind": task_records[0].data_kind, "metric": spec.primary_metric,
            "trivial": spec.trivial, "reference": spec.reference, "anchor": spec.anchor, "note": spec.data_note, "board": board_html, "n_runs": len(task_records),
            "images": _task_images(store, task_records, board, spec), "provenance": _provenance(task_records),
        })
    table = runs_table(records)
    page = _TEMPLATE.render(
        n_runs=len(records), n_tasks=len(tasks), tasks=tasks, challenges=challenge_sections(out),
        summary=_summary(records, names) if records else "<p>No runs yet.</p>",
        table=_html(table) if len(table) else "<p>No runs yet.</p>",
    )
    return atomic_write_text(Path(out) / "report.html", page)
