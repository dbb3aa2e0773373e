"""The book's figure style and figure export.

:func:`use_style` sets one seaborn style for every figure of the book; :func:`save_figure` writes a
figure as PNG and SVG together with its data as a tidy CSV (one row per plotted point, columns
naming the series and the axes), which is what ``rob run`` hands back to the user.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib as mpl

#: Colours by series name, shared across chapters so that e.g. ReLU is always the same colour.
PALETTE = "colorblind"


def use_style() -> None:
    """Apply the book-wide seaborn style (white grid, colour-blind palette, readable sizes)."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, font_scale=0.9)
    mpl.rcParams.update({
        "figure.dpi": 110,
        "savefig.dpi": 150,
        "savefig.bbox": "tight",
        "axes.titleweight": "bold",
        "legend.frameon": False,
        "svg.fonttype": "none",
        "svg.hashsalt": "rob-book",  # deterministic SVG ids
    })


def save_figure(fig, name: str, out_dir: str | os.PathLike, data=None) -> list[Path]:
    """Write ``<out_dir>/<name>.png``, ``.svg`` and, when ``data`` (a tidy DataFrame) is given,
    ``<name>.csv``; return the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.svg"]
    fig.savefig(paths[0])
    fig.savefig(paths[1], metadata={"Date": None})
    if data is not None:
        paths.append(out / f"{name}.csv")
        data.to_csv(paths[-1], index=False)
    return paths


def glue(name: str, value, display: bool = False) -> None:
    """``myst_nb.glue`` when the book's tool chain is installed (so the prose can quote computed
    numbers and figures); outside it (Colab, plain Jupyter) figures are simply shown."""
    try:
        from myst_nb import glue as _glue
    except ImportError:
        if not display and hasattr(value, "savefig"):
            from IPython.display import display as _show

            _show(value)
        return
    _glue(name, value, display=display)


def tidy(figure: str, panel: str, series: str, x_name: str, x, y_name: str, y, y_low=None, y_high=None,
         **labels) -> "pd.DataFrame":
    """One row per plotted point: ``figure, panel, series, x_name, x, y_name, y, y_low, y_high`` plus
    any extra label columns (e.g. ``act="relu"``)."""
    import numpy as np
    import pandas as pd

    x = np.asarray(x, dtype=float)
    n = len(x)
    col = (lambda v: np.full(n, np.nan) if v is None else np.asarray(v, dtype=float))
    return pd.DataFrame({"figure": figure, "panel": panel, "series": series, **labels, "x_name": x_name,
                         "x": x, "y_name": y_name, "y": np.asarray(y, dtype=float),
                         "y_low": col(y_low), "y_high": col(y_high)})


def descent_grid(df, figure: str, x_of_n, x_label: str, acts, hue_values, hue: str = "lam",
                 hue_label: str = "ridge λ", rows=(("train_mse", "train MSE"), ("test_mse", "test MSE"),
                                                   ("S", r"Sobolev seminorm $\mathfrak{S}$")),
                 vlines=None, floor: float = 1e-32):
    """Grid of median curves with interquartile bands: one row per metric, one column per
    activation, one colour per value of ``hue``; x is ``x_of_n(n)``.

    ``vlines(act) -> [(x, linestyle, label), ...]`` draws reference lines.  Returns
    ``(fig, axes, tidy DataFrame of every plotted point)``.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd
    import seaborn as sns

    colors = dict(zip(hue_values, sns.color_palette(PALETTE, len(hue_values))))
    fig, axes = plt.subplots(len(rows), len(acts), figsize=(2.9 * len(acts) + 0.8, 2.3 * len(rows) + 0.3),
                             sharex=True, squeeze=False, layout="constrained")
    points = []
    for j, act in enumerate(acts):
        for i, (col, label) in enumerate(rows):
            ax = axes[i, j]
            for h in hue_values:
                sub = df[(df.act == act) & (df[hue] == h)]
                g = sub.groupby("n")[col]
                n = np.asarray(g.median().index, dtype=float)
                med, q25, q75 = (np.maximum(v.to_numpy(), floor) for v in (g.median(), g.quantile(0.25), g.quantile(0.75)))
                x = x_of_n(n)
                ax.plot(x, med, marker="o", ms=3, lw=1.3, color=colors[h], label=f"{h:g}")
                ax.fill_between(x, q25, q75, color=colors[h], alpha=0.2, lw=0)
                points.append(tidy(figure, f"{col}/{act}", f"{hue_label} = {h:g}", x_label, x, label, med, q25, q75,
                                   act=act, metric=col, **{hue: h}))
            for xv, ls, _ in (vlines(act) if vlines else []):
                ax.axvline(xv, color="0.3", ls=ls, lw=1)
            ax.set_yscale("log")
            if i == 0:
                ax.set_title(act)
            if j == 0:
                ax.set_ylabel(label)
            if i == len(rows) - 1:
                ax.set_xlabel(x_label)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, title=hue_label, loc="outside right upper", fontsize=8, title_fontsize=8)
    return fig, axes, pd.concat(points, ignore_index=True)
