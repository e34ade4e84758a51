"""The ``chainrule`` command (also ``python -m chainrule``).

    chainrule train [options]            train an MLP (default: the bundled digits, >= 97%)
    chainrule eval RUN_DIR               test accuracy, per-class metrics, confusion matrix
    chainrule predict RUN_DIR INPUT.csv  predictions for new rows
    chainrule explain [options]          backpropagation step by step, as an HTML page
    chainrule bench [options]            the standard benchmark against PyTorch and NumPy

User errors print one line, ``chainrule <command>: error: <what is wrong and how to fix
it>``, and exit with status 2 before anything is written.
"""

from __future__ import annotations

import argparse
import os
import sys

from .errors import INTERRUPTED, CLIError, one_line

__all__ = ["main", "build_parser"]

_SUBCOMMANDS = ("train", "eval", "predict", "explain", "bench")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what is wrong, where to look) and raises
    CLIError instead of printing the whole usage and exiting."""

    def error(self, message):
        raise CLIError(f"{message} (see '{self.prog} --help')", prog=self.prog)


# --------------------------------------------------------------------------- option types


def _hidden(text: str) -> list[int]:
    if text.strip().lower() in ("", "none"):
        return []
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        sizes = None
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive layer widths like 128,64 (or 'none' for no "
            f"hidden layer), got {text!r}")
    return sizes


def _batch_size(text: str):
    if text.strip().lower() == "full":
        return "full"
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(
            f"must be a positive number of samples per step (1 = stochastic gradient descent, "
            f"N = mini-batch) or 'full' (full-batch gradient descent), got {text!r}")
    return n


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = None
        if n is None or n < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return n
    return parse


def _float_in(low: float, high: float | None = None, *, low_open=False, high_open=True):
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            v = None
        ok = v is not None and v == v and (v > low if low_open else v >= low)
        if ok and high is not None:
            ok = v < high if high_open else v <= high
        elif ok:
            ok = v != float("inf")
        if not ok:
            lo = f"{'(' if low_open else '['}{low:g}"
            hi = f"{high:g}{')' if high_open else ']'}" if high is not None else "inf)"
            raise argparse.ArgumentTypeError(f"must be a number in {lo}, {hi}, got {text!r}")
        return v
    return parse


# --------------------------------------------------------------------------- the parser


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from .data import DATASETS, TASKS
    from .model import ACTIVATIONS, LOSSES
    from .train import DEFAULT_EPOCHS, DEFAULT_LR, DEFAULTS, LR_SCHEDULES, OPTIMIZERS

    p = _Parser(prog="chainrule", allow_abbrev=False,
                description="Train, evaluate and use feed-forward neural networks with "
                            "chainrule (PyTorch's API on NumPy, reverse-mode autodiff).")
    p.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    d = DEFAULTS
    t = sub.add_parser(
        "train", allow_abbrev=False, help="train an MLP (default: bundled digits)",
        description="Train a multilayer perceptron with gradient descent. With no options: "
                    "the bundled 8x8 digits, 64-128-64-10 ReLU, Adam, 40 epochs of batch 32 "
                    "(>= 97% test accuracy in seconds). Ctrl-C saves a checkpoint; --resume "
                    "continues it bit-identically.")
    g = t.add_argument_group("data")
    g.add_argument("--data", metavar="NAME|FILE.csv",
                   help=f"{', '.join(DATASETS)} or a CSV file with a header row "
                        f"(default: {d['data']}; with --resume: the CSV file's new place if "
                        f"it has moved)")
    g.add_argument("--label-column", metavar="NAME",
                   help="CSV: the column to predict (default: the last one)")
    g.add_argument("--task", choices=TASKS,
                   help="CSV: inferred from the labels when left out (non-numbers or at most "
                        "20 distinct integers: classification)")
    g.add_argument("--val-fraction", type=_float_in(0, 1), metavar="F",
                   help=f"share of the training rows held out for validation (default "
                        f"{d['val_fraction']}; 0: none)")
    g.add_argument("--data-dir", metavar="DIR",
                   help="MNIST / Fashion-MNIST: folder of the IDX files (default: the "
                        "chainrule cache, $CHAINRULE_DATA; with --resume: the folder's new "
                        "place if it has moved)")
    g.add_argument("--download", action="store_true", default=None,
                   help="MNIST / Fashion-MNIST: fetch missing files")
    g = t.add_argument_group("model")
    g.add_argument("--hidden", type=_hidden, metavar="W1,W2,...",
                   help="hidden layer widths (default: 128,64; 'none': a linear model)")
    g.add_argument("--activation", choices=list(ACTIVATIONS),
                   help=f"(default: {d['activation']})")
    g.add_argument("--dropout", type=_float_in(0, 1), metavar="P",
                   help="dropout probability after each hidden activation (default: 0)")
    g = t.add_argument_group("training")
    g.add_argument("--loss", choices=list(LOSSES),
                   help="(default: cross_entropy for classification, mse for regression)")
    g.add_argument("--label-smoothing", type=_float_in(0, 1, high_open=False), metavar="E",
                   help=f"cross_entropy only (default: {d['label_smoothing']})")
    g.add_argument("--optimizer", choices=list(OPTIMIZERS),
                   help="sgd: plain; momentum: SGD with momentum 0.9 (default: "
                        f"{d['optimizer']})")
    g.add_argument("--lr", type=_float_in(0, low_open=True), metavar="LR",
                   help="learning rate (default, for --batch-size 1 / N / full: " + ", ".join(
                       f"{k} " + "/".join(f"{v:g}" for v in lrs)
                       for k, lrs in DEFAULT_LR.items()) + ")")
    g.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                   help=f"(default: {d['lr_schedule']})")
    g.add_argument("--batch-size", type=_batch_size, metavar="N|full",
                   help="samples per step: 1 = stochastic, N = mini-batch, full = full-batch "
                        f"gradient descent (default: {d['batch_size']})")
    g.add_argument("--epochs", type=_int_at_least(1), metavar="N",
                   help="passes over the training set (default, for --batch-size 1 / N / full: "
                        + " / ".join(map(str, DEFAULT_EPOCHS)) + "; with --resume: the new "
                        "total)")
    g.add_argument("--weight-decay", type=_float_in(0), metavar="L2",
                   help="(default: 0; adamw: 0.01)")
    g.add_argument("--seed", type=_int_at_least(0), metavar="N",
                   help=f"seeds initialization, dropout and shuffling (default: {d['seed']})")
    g.add_argument("--device", choices=("cpu", "cuda"), help="(default: cpu)")
    g = t.add_argument_group("output")
    g.add_argument("--out", metavar="DIR",
                   help="run folder (default: runs/<date>-<time>-<data>)")
    g.add_argument("--resume", metavar="RUN_DIR",
                   help="continue a run from its checkpoint (bit-identical to not stopping)")
    g.add_argument("--quiet", action="store_true",
                   help="no progress bars or tables, only the result line")
    g.add_argument("--inspect", action="store_true",
                   help="record per-layer activation, gradient and update statistics each "
                        "epoch, write inspect.png, and warn about vanishing/exploding "
                        "gradients, dead ReLUs and NaN losses")

    e = sub.add_parser("eval", allow_abbrev=False, help="evaluate a trained run on its test set",
                       description="Rebuild the model of RUN_DIR and report its test accuracy, "
                                   "per-class precision/recall and confusion matrix (written "
                                   "to RUN_DIR/confusion.png).")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--data", metavar="FILE.csv",
                   help="the run's CSV file, if it has moved (it must be the same file)")
    e.add_argument("--data-dir", metavar="DIR",
                   help="MNIST / Fashion-MNIST: the IDX files' folder, if it has moved")
    e.add_argument("--download", action="store_true", default=None,
                   help="MNIST / Fashion-MNIST: fetch missing files")

    r = sub.add_parser("predict", allow_abbrev=False, help="predict for the rows of a CSV file",
                       description="Predict for each row of INPUT.csv: the training "
                                   "features, raw as in the data set (digits: pixels 0..16, "
                                   "MNIST: 0..255), with a header row naming them (any order; "
                                   "the label column is ignored) or without one (training "
                                   "order). Writes CSV (prediction, probability) to stdout or "
                                   "--output.")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("input", metavar="INPUT.csv")
    r.add_argument("--output", metavar="FILE", help="write the predictions here (CSV)")
    r.add_argument("--quiet", action="store_true")

    from .explain import add_parser as add_explain

    add_explain(sub)

    sub.add_parser("bench", add_help=False, help="run the standard benchmark (see 'chainrule "
                                                 "bench --help')")
    return p


# --------------------------------------------------------------------------- entry point


# the core needs only NumPy; these commands draw progress bars and plots
_EXTRAS = {"train": ("tqdm", "matplotlib"), "eval": ("matplotlib",),
           "explain": ("matplotlib",)}


def _require_extras(command):
    import importlib.util

    missing = [m for m in _EXTRAS.get(command, ()) if importlib.util.find_spec(m) is None]
    if missing:
        raise CLIError(f"'chainrule {command}' needs {' and '.join(missing)}: install the "
                       "command-line extras with pip install 'chainrule[cli]'")


def main(argv=None) -> int:
    """Run the ``chainrule`` command with ``argv`` (default ``sys.argv[1:]``); returns the
    exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":
        from ..bench import main as bench

        return bench(argv[1:]) or 0
    prog = "chainrule"
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise CLIError(f"missing command: choose one of {', '.join(_SUBCOMMANDS)} (see "
                           f"'chainrule --help')")
        prog = f"chainrule {args.command}"
        _require_extras(args.command)
        if args.command == "train":
            from .train import run
        elif args.command == "eval":
            from .evaluate import run
        elif args.command == "explain":
            from .explain import run
        else:
            from .predict import run
        return run(args)
    except CLIError as exc:
        sys.stdout.flush()
        where = exc.prog or prog
        if where == "chainrule" and argv and argv[0] in _SUBCOMMANDS:
            # unrecognized arguments are reported by the top-level parser
            where = f"chainrule {argv[0]}"
            exc = CLIError(str(exc).replace("'chainrule --help'", f"'{where} --help'"))
        print(f"{where}: error: {one_line(exc)}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # e.g. `chainrule predict ... | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 0

