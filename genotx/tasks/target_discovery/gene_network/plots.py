"""The recovered network drawn over the reference (a matplotlib figure; the report encodes it)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_network"]


def plot_network(details: dict, *, ax=None):
    """Reference edges in grey; the top-scored edges of a run as arrows, green when the reference has
    them (that direction), red otherwise; line width grows with the score. Nodes on a circle.

    ``details`` is a run's ``details`` (its ``"network"`` entry: ``variables``, ``reference``,
    ``top_edges`` as ``[source, target, score, in_reference]``, ``title``). Returns the figure.

    Examples
    --------
    >>> fig = plot_network({"network": {"variables": ["a", "b", "c"], "reference": [["a", "b"]],
    ...                                 "top_edges": [["a", "b", 0.9, 1], ["c", "a", 0.4, 0]], "title": "toy"}})
    >>> len(fig.axes)
    1
    """
    import matplotlib.pyplot as plt

    net = details["network"]
    names = list(net["variables"])
    angle = np.linspace(0, 2 * np.pi, len(names), endpoint=False) + np.pi / 2
    xy = {v: (np.cos(a), np.sin(a)) for v, a in zip(names, angle)}
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.6, 5.6))
    else:
        fig = ax.figure
    for s, t in net["reference"]:
        if s in xy and t in xy:
            ax.annotate("", xy=xy[t], xytext=xy[s], arrowprops={"arrowstyle": "-|>", "color": "0.8", "lw": 4, "shrinkA": 14, "shrinkB": 14})
    top = net["top_edges"]
    best = max((e[2] for e in top), default=1.0) or 1.0
    for s, t, score, hit in top:
        ax.annotate("", xy=xy[t], xytext=xy[s], arrowprops={
            "arrowstyle": "-|>", "color": "tab:green" if hit else "tab:red", "lw": 0.6 + 2.4 * score / best,
            "shrinkA": 14, "shrinkB": 14, "connectionstyle": "arc3,rad=0.12"})
    for v, (x, y) in xy.items():
        ax.text(x, y, v, ha="center", va="center", fontsize=8, bbox={"boxstyle": "round", "fc": "white", "ec": "0.4"})
    hits = sum(e[3] for e in top)
    ax.set_title(f"{net.get('title', '')}\ntop {len(top)} edges: {hits} in the reference (grey); green = right, red = not", fontsize=9)
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig
