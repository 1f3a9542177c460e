"""``genotx explain``: what a task's model learned (motifs or ranked features), with sanity checks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from genotx.cli._app import app, fail, out, parse_names, progress_bar
from genotx.errors import GenotxError


@app.command("explain")
def explain_(
    task: str,
    input_path: Annotated[Optional[Path], typer.Option("--input", help="your file (the task's predict format): explained with the "
                                                       "model fitted on all the task's data; default: held-out rows of the task")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="results folder: writes <out>/challenges/explain_<TASK>.json and PNGs")] = Path("results"),
    model: Annotated[Optional[str], typer.Option(help="baseline name (default: the challenge's choice for the task)")] = None,
    methods: Annotated[Optional[str], typer.Option(help="sequence models: ism, integrated_gradients, saliency (comma-separated)")] = None,
    rows: Annotated[Optional[int], typer.Option(help="at most this many rows explained (a seeded draw)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the fit and of the draws")] = 0,
    no_sanity: Annotated[bool, typer.Option("--no-sanity", help="skip the randomisation tests (faster)")] = False,
) -> None:
    """Attributions of a task's model: motifs matched to references (sequence models) or ranked features (SHAP)."""
    from genotx.challenges.explain import explain, save_explain
    from genotx.engine.predict import fitted_model

    try:
        with progress_bar() as progress:
            bar = progress.add_task(f"{task}: explain", total=None)
            result = explain(task, input=input_path, model=model, methods=parse_names(methods), n_rows=rows, seed=seed,
                             fitted=lambda name: fitted_model(task, model=name),  # the engine's cached model
                             sanity=not no_sanity, progress=lambda text: progress.update(bar, description=text))
        paths = save_explain(result, out_dir)
    except GenotxError as e:
        fail(e)
    summary = result.summary()
    table = Table(title=f"{result.task} / {result.model}: {result.n_rows} {result.source} ({result.data_kind})")
    for column in summary.columns:
        table.add_column(str(column), justify="right" if summary[column].dtype.kind in "fi" else "left")
    for _, row in summary.iterrows():
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    out.print(table)
    checks = result.sanity
    randomisation = checks.get("randomisation")
    if randomisation:
        verdict = "passed" if randomisation["passed"] else "FAILED"
        out.print(f"sanity: {randomisation['kind']} {verdict} on {randomisation.get('level', 'the ranking')} (Spearman with the "
                  f"trained model {randomisation['final']}, threshold {randomisation['threshold']})", highlight=False)
        beyond = randomisation.get("beyond_permuted")
        if beyond is not None:
            out.print(f"features beyond every permuted-label model (PIMP z > {beyond['max_pimp_z_of_permuted_models']:.2f}): "
                      f"{', '.join(beyond['features'][:12]) or 'none'}", highlight=False)
    for m in checks.get("markers", []):
        if "rank_pimp" in m:
            out.print(f"marker {m['marker']} for {m['group']}: rank {m['rank_pimp']} of {m['n_genes']} genes (PIMP z {m['pimp_z']:.2f}); "
                      f"Spearman with measured {m['data_spearman']:.2f}, predicted {m['model_spearman']:.2f} response", highlight=False)
    if result.model_score:
        out.print("held-out score of the explained model: " + ", ".join(f"{k} {v:.3f}" for k, v in result.model_score.items()),
                  highlight=False)
    if result.note:
        out.print(result.note, highlight=False)
    out.print(f"time {result.seconds:.0f}s; wrote {paths[0]}", highlight=False)
