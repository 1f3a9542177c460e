"""Figures of a cell_composition run (matplotlib figures; the report encodes them)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["per_type_figure"]


def per_type_figure(per_type: Mapping[str, Mapping[str, float]], title: str = "per cell type"):
    """Pearson r and RMSE of each cell type's proportion (a run's ``details["per_type"]``), with the
    number of distinct training cells of the type beside its name.

    Examples
    --------
    >>> fig = per_type_figure({"B": {"pearson": 0.9, "rmse": 0.02, "n_train_cells": 47},
    ...                        "NK": {"pearson": 0.7, "rmse": 0.05, "n_train_cells": 15}})
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['Pearson r', 'RMSE']
    """
    import matplotlib.pyplot as plt

    names = sorted(per_type, key=lambda n: per_type[n]["pearson"])
    labels = [f"{n} ({per_type[n]['n_train_cells']})" if "n_train_cells" in per_type[n] else n for n in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 0.3 * len(names) + 1.4), sharey=True)
    left.barh(labels, [per_type[n]["pearson"] for n in names], color="#4c72b0")
    left.set_xlabel("Pearson r")
    left.set_xlim(min(0.0, min(per_type[n]["pearson"] for n in names)), 1.0)
    right.barh(labels, [per_type[n]["rmse"] for n in names], color="#dd8452")
    right.set_xlabel("RMSE")
    fig.suptitle(f"{title} (training cells in brackets)", fontsize=10)
    fig.tight_layout()
    return fig
