"""``chainrule explain``: backpropagation, step by step, on a network small enough to read.

Writes one self-contained HTML page (no network access needed to view it) that steps
through the forward pass node by node, then the backward pass node by node, and ends with
one gradient-descent update; ``--format text`` prints the same walk-through.  Every number
is computed by chainrule and each gradient is checked against a finite-difference estimate.
"""

from __future__ import annotations

import os
import sys

from .errors import FAILED, CLIError, one_line

DEFAULT_OUT = "explain.html"


def add_parser(sub):
    """Register the ``explain`` subcommand on ``sub`` (argparse subparsers)."""
    e = sub.add_parser(
        "explain", allow_abbrev=False, help="backpropagation step by step (an HTML page)",
        description="Write an HTML page that walks through one forward pass, one backward "
                    "pass and one gradient-descent step of a small network, node by node, "
                    "with every number (each gradient checked by finite differences). By "
                    "default: a chain of single units x -> h1 -> h2 -> h3 -> prediction -> "
                    "cross-entropy loss on one data point.")
    g = e.add_argument_group("the network (default: a chain of single units)")
    g.add_argument("--depth", type=int, default=3, metavar="N",
                   help="hidden units in the chain (default: 3)")
    g.add_argument("--activation", choices=("sigmoid", "tanh", "relu"),
                   help="(default: sigmoid for the chain, relu for --layers)")
    g.add_argument("--weights", metavar="W1,W2,...",
                   help="the chain's weights, depth + 1 numbers (default: N(0, 1) from --seed; "
                        "for relu the hidden weights get the sign that keeps every unit on)")
    g.add_argument("--x", type=float, default=1.0, metavar="X",
                   help="the chain's input (default: 1.0)")
    g.add_argument("--y", type=int, default=None, metavar="CLASS",
                   help="the data point's class (default: 1 for the chain, 0 for --layers)")
    g.add_argument("--layers", metavar="N0,N1,...",
                   help="a small MLP instead: layer sizes, input first, classes last (e.g. "
                        "2,3,2)")
    g.add_argument("--model", metavar="RUN_DIR",
                   help="the trained network of a run folder (chainrule train), on one test "
                        "sample")
    g.add_argument("--sample", type=int, default=0, metavar="I",
                   help="--model: which test sample (default: 0)")
    g.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seeds the weights and the data point (default: 0)")
    g.add_argument("--lr", type=float, default=0.5, metavar="LR",
                   help="learning rate of the update shown at the end (default: 0.5)")
    g = e.add_argument_group("output")
    g.add_argument("--format", choices=("html", "text"), default="html",
                   help="html: write a page (default); text: print the walk-through")
    g.add_argument("--out", metavar="FILE",
                   help=f"where to write (default: {DEFAULT_OUT}; text: standard output)")
    g.add_argument("--open", action="store_true",
                   help="open the page in a web browser when written")
    return e


def _example(args):
    from ..viz import networks

    if args.model is not None and args.layers is not None:
        raise CLIError("--model and --layers don't go together: explain a trained run or a "
                       "fresh MLP, not both")
    if args.model is not None:
        return _run_example(args)
    try:
        if args.layers is not None:
            sizes = networks.parse_layers(args.layers)
            if sum(a * b for a, b in zip(sizes, sizes[1:])) > 400:
                raise CLIError(f"--layers {args.layers} is too big to read step by step "
                               "(more than 400 weights); use a few units per layer, like 2,3,2")
            return networks.mlp_network(sizes, args.activation or "relu", args.seed,
                                        y=args.y)
        weights = None
        if args.weights is not None:
            try:
                weights = [float(w) for w in args.weights.split(",")]
            except ValueError:
                raise CLIError(f"--weights must be numbers separated by commas, got "
                               f"{args.weights!r}") from None
        return networks.chain_network(args.depth, args.activation or "sigmoid", args.seed,
                                      x=args.x, y=1 if args.y is None else args.y,
                                      weights=weights)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _run_example(args):
    from .. import creation
    from ..viz import networks
    from . import data as datasets
    from . import model as models
    from . import rundir

    ckpt = rundir.load_run(args.model, option="--model")
    config = ckpt["config"]
    model = rundir.rebuild_model(ckpt, args.model)
    prepared = datasets.prepare(datasets.options_of(config["data"]), expect=config["data"])
    x_all, y_all = prepared.test.tensors
    if not 0 <= args.sample < len(y_all):
        raise CLIError(f"--sample {args.sample}: the test set has {len(y_all)} samples "
                       f"(0 to {len(y_all) - 1})")
    training = config["training"]
    loss_fn = models.loss_function(training["loss"], prepared.task, prepared.num_outputs,
                                   training["label_smoothing"])
    i = args.sample
    x = creation.tensor(x_all.data[i:i + 1])
    y = creation.tensor(y_all.data[i:i + 1])
    label = (f"class {prepared.spec['classes'][int(y.item())]}"
             if prepared.task == "classification" else "its target")
    return networks.model_example(
        model, x, y, loss_fn,
        title=f"Backpropagation through the trained {models.describe(config['model'])}",
        subtitle=f"The network of {args.model} on test sample {i} ({label}), loss "
                 f"{training['loss']}. Large tensors are summarized; the finite-difference "
                 "checks use a spread of their entries.",
        settings={"run": args.model, "sample": i})


def run(args) -> int:
    from ..viz.explain import walkthrough
    from ..viz.formulas import to_ascii

    if not args.lr > 0:
        raise CLIError(f"--lr must be positive, got {args.lr}")
    ex = _example(args)
    settings = dict(ex.settings)
    wt = walkthrough(ex.loss, lr=args.lr, params=ex.params, names=ex.names, title=ex.title,
                     subtitle=ex.subtitle, settings=settings, notes=ex.notes)
    if args.format == "text":
        from ..viz.text import render_text

        if args.out is None:
            encoding = getattr(sys.stdout, "encoding", None) or "ascii"
            text = render_text(wt)
            try:
                text.encode(encoding)
            except UnicodeEncodeError:
                text = to_ascii(text)
            sys.stdout.write(text)
        else:
            _write(args.out, render_text(wt))
            print(f"wrote {args.out}")
        return 0 if wt.all_agree else FAILED
    from ..viz.html import render_html

    out = args.out or DEFAULT_OUT
    _write(out, render_html(wt))
    steps = len(wt.forward) + len(wt.backward) + 1
    check = ("every gradient agrees with its finite-difference estimate" if wt.all_agree
             else "SOME GRADIENTS DISAGREE WITH FINITE DIFFERENCES")
    print(f"wrote {out}: {len(wt.forward)} forward steps, {len(wt.backward)} backward steps "
          f"and the update ({steps} steps); {check}")
    if args.open:
        import webbrowser

        webbrowser.open("file://" + os.path.abspath(out))
    return 0 if wt.all_agree else FAILED


def _write(path, text) -> None:
    from .rundir import write_bytes

    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"--out {path}: the folder {folder} does not exist")
    try:
        write_bytes(path, text.encode("utf-8"))
    except OSError as exc:
        raise CLIError(f"can't write {path}: {one_line(exc.strerror or exc)}") from None
