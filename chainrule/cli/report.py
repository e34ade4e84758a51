"""What the commands show: text tables, classification metrics, and the PNG plots.

Plots are drawn with matplotlib's Agg canvas directly (no pyplot, no display, no global
backend switch), rendered to bytes and written atomically.
"""

from __future__ import annotations

import io

from .. import backend
from .rundir import write_bytes

_np = backend.np


# --------------------------------------------------------------------------- tables


def table(headers: list[str], rows: list[list], indent: str = "  ") -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in r] for r in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(headers))]

    def line(r):
        return indent + "  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                                  for j, (c, w) in enumerate(zip(r, widths))).rstrip()

    rule = indent + "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def pick_rows(n: int, most: int = 12) -> list[int]:
    """Indices of at most ``most`` of ``n`` rows, evenly spread, always the first and last."""
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


def epoch_table(history: dict, most: int = 12) -> str:
    """Per-epoch losses and accuracies (thinned to ``most`` rows for long runs)."""
    has_acc = "train_accuracy" in history
    has_val = "val_loss" in history
    headers = ["epoch", "train loss"] + (["train acc"] if has_acc else [])
    if has_val:
        headers += ["val loss"] + (["val acc"] if has_acc else [])
    headers.append("time (s)")
    rows = []
    for i in pick_rows(len(history["epoch"]), most):
        row = [history["epoch"][i], history["train_loss"][i]]
        if has_acc:
            row.append(history["train_accuracy"][i])
        if has_val:
            row.append(history["val_loss"][i])
            if has_acc:
                row.append(history["val_accuracy"][i])
        row.append(f"{history['epoch_time'][i]:.2f}")
        rows.append(row)
    return table(headers, rows)


# --------------------------------------------------------------------------- metrics


def confusion_matrix(y_true, y_pred, k: int):
    """(k, k) int64 counts: row = true class, column = predicted class."""
    m = _np.zeros((k, k), _np.int64)
    _np.add.at(m, (_np.asarray(y_true), _np.asarray(y_pred)), 1)
    return m


def per_class(matrix) -> list[dict]:
    """Precision, recall, F1 and support of every class from a confusion matrix (a class
    never predicted has precision 0, as scikit-learn's zero_division=0)."""
    tp = _np.diag(matrix).astype(_np.float64)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    out = []
    for c in range(len(matrix)):
        p = tp[c] / predicted[c] if predicted[c] else 0.0
        r = tp[c] / actual[c] if actual[c] else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        out.append({"precision": float(p), "recall": float(r), "f1": float(f1),
                    "support": int(actual[c])})
    return out


def confusion_text(matrix, classes) -> str:
    labels = [str(c) for c in classes]
    headers = ["true \\ predicted"] + labels
    return table(headers, [[labels[i]] + [int(v) for v in row] for i, row in enumerate(matrix)])


# --------------------------------------------------------------------------- plots


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save_png(fig, path: str) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_bytes(path, buf.getvalue())


def plot_curves(history: dict, test: dict | None, path: str, title: str = "", *,
                loss_note: str = "", loss_floor: float | None = None) -> None:
    """Loss (and accuracy, for classification) per epoch, training and validation, with the
    final test value as a marker.  ``loss_note`` is added to the loss axis's label (e.g.
    "with label smoothing 0.1"); ``loss_floor`` draws the smallest loss reachable (label
    smoothing keeps it above 0) as a dashed line."""
    _save_png(curves_figure(history, test, title, loss_note=loss_note, loss_floor=loss_floor),
              path)


def curves_figure(history: dict, test: dict | None, title: str = "", *, loss_note: str = "",
                  loss_floor: float | None = None):
    """The matplotlib Figure that ``plot_curves`` saves."""
    from matplotlib.ticker import MaxNLocator

    epochs = history["epoch"]
    has_acc = "train_accuracy" in history
    fig = _figure(11 if has_acc else 6, 4.2)
    panels = [("loss", "loss")] + ([("accuracy", "accuracy")] if has_acc else [])
    for j, (key, label) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), j + 1)
        ax.plot(epochs, history[f"train_{key}"], marker="o", markersize=3, label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], marker="o", markersize=3, label="validation")
        if test and test.get(key) is not None and epochs:
            ax.plot([epochs[-1]], [test[key]], marker="*", markersize=12, linestyle="none",
                    label=f"test ({test[key]:.4f})")
        if key == "loss" and loss_floor is not None and epochs:
            ax.axhline(loss_floor, color="gray", linestyle="--", linewidth=1,
                       label=f"lowest possible ({loss_floor:.3f})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{label} ({loss_note})" if key == "loss" and loss_note else label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.grid(True, alpha=0.3)
        ax.legend()
        if key == "loss" and min(history["train_loss"], default=1) > 0:
            _log_axis(ax)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _log_axis(ax) -> None:
    """A log-scale y axis labelled with plain numbers (0.2, 0.5, 1) at a density that suits
    its range; matplotlib's default labels only powers of ten, so a loss that stays within
    one decade gets no label at all, or 2x10^-1-style minor labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    decades = _np.log10(hi / lo) if lo > 0 and hi > lo else 0.0
    subs = (1.0,) if decades > 3 else (1.0, 2.0, 5.0) if decades > 1 else _np.arange(1, 10)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs, numticks=50))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot_confusion(matrix, classes, path: str, title: str = "") -> None:
    """The confusion matrix as a heat map with its counts written in the cells."""
    k = len(classes)
    size = min(3 + 0.45 * k, 14)
    fig = _figure(size + 1, size)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    labels = [str(c) for c in classes]
    ax.set_xticks(range(k), labels, rotation=45 if max(map(len, labels)) > 2 else 0,
                  ha="right" if max(map(len, labels)) > 2 else "center")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 30:
        top = matrix.max() if matrix.size else 0
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if matrix[i, j] > top / 2 else "black")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    _save_png(fig, path)
