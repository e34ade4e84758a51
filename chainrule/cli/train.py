"""``chainrule train``: train a multilayer perceptron with gradient descent.

The loop below is the whole algorithm.  One *step* of gradient descent is

1. forward pass: the model computes its outputs for a batch, recording the graph;
2. loss: one number, the mean loss over the batch;
3. backward pass: ``loss.backward()`` applies the chain rule from the loss back to every
   weight, leaving d loss / d weight in each weight's ``.grad``;
4. update: the optimizer moves every weight against its gradient
   (``w <- w - lr * grad`` for plain SGD).

The three variants of gradient descent differ only in how many samples that batch holds
(see ``make_loader``): one (stochastic gradient descent), N (mini-batch), or the whole
training set (full-batch gradient descent).

A run can be stopped with Ctrl-C (it finishes the current step, saves a checkpoint and
exits with status 130) and continued with ``--resume RUN_DIR``: the model, optimizer,
scheduler, random generator and the data loader's position in the epoch are restored, so
the continued run is bit-identical to one that was never interrupted.
"""

from __future__ import annotations

import datetime
import math
import os
import signal
import sys
import threading
import time

from .. import __version__, backend, optim, random
from ..utils.data import DataLoader, TensorDataset
from . import data as datasets
from . import model as models
from . import report, rundir
from .errors import FAILED, INTERRUPTED, CLIError, one_line
from .evaluate import measure

# name -> (class, extra arguments)
OPTIMIZERS = {
    "sgd": (optim.SGD, {}),
    "momentum": (optim.SGD, {"momentum": 0.9}),
    "adam": (optim.Adam, {}),
    "adamw": (optim.AdamW, {}),
    "rmsprop": (optim.RMSprop, {}),
}
VARIANTS = ("stochastic", "mini-batch", "full-batch")  # --batch-size 1, N, full
# The default lr and number of epochs depend on the variant of gradient descent (see
# make_loader): one sample per step needs smaller steps than a mini-batch (momentum 0.9 at
# lr 0.01 collapses), while the exact full-batch gradient takes larger ones and, at one step
# per epoch, more epochs.  Chosen on digits (every optimizer then reaches >= 95.8% test
# accuracy with every variant, most >= 97%) and checked on a regression CSV (larger
# full-batch steps diverge there).
DEFAULT_LR = {
    "sgd": (0.01, 0.05, 0.2),
    "momentum": (0.001, 0.01, 0.1),
    "adam": (3e-4, 1e-3, 1e-2),
    "adamw": (3e-4, 1e-3, 1e-2),
    "rmsprop": (3e-4, 1e-3, 3e-3),
}
DEFAULT_EPOCHS = (20, 40, 100)
DEFAULT_WEIGHT_DECAY = {"adamw": 0.01}  # torch's defaults; 0 for the others
LR_SCHEDULES = ("constant", "cosine")
INSPECT = "inspect.png"  # written by --inspect
INSPECT_JSON = "inspect.json"

# Defaults of ``chainrule train`` (an option left out takes these; chosen so that the bare
# command reaches >= 97% test accuracy on the bundled digits within seconds).
# (lr and epochs: DEFAULT_LR and DEFAULT_EPOCHS, for the chosen batch size.)
DEFAULTS = {
    "data": "digits", "hidden": [128, 64], "activation": "relu", "dropout": 0.0,
    "optimizer": "adam", "batch_size": 32, "val_fraction": 0.1, "seed": 0,
    "lr_schedule": "constant", "label_smoothing": 0.1, "device": "cpu",
}


def variant(batch_size) -> int:
    """Index into VARIANTS (and the default tables) of a ``--batch-size`` value."""
    return 2 if batch_size == "full" else 0 if batch_size == 1 else 1


# --------------------------------------------------------------------------- the algorithm


def make_loader(train_set, batch_size) -> DataLoader:
    """The batches of one epoch: this is where the three variants of gradient descent differ.

    * ``batch_size=1``: **stochastic gradient descent**.  Every sample is its own step: many
      cheap, noisy updates per epoch, in a new random order each epoch.
    * ``batch_size=N``: **mini-batch gradient descent**.  Each step averages the gradient
      over N samples: less noise per step, fewer steps per epoch, and vectorized work.
    * ``batch_size="full"``: **full-batch gradient descent**.  One step per epoch with the
      exact gradient of the mean loss over the whole training set; the order doesn't
      matter, so there is nothing to shuffle.
    """
    if batch_size == "full":
        return DataLoader(train_set, batch_size=len(train_set), shuffle=False)
    return DataLoader(train_set, batch_size=batch_size, shuffle=True)


class Meter:
    """Running sums over the samples of an epoch: loss, correct predictions, count."""

    def __init__(self, state: dict | None = None):
        state = state or {}
        self.loss_sum = state.get("loss_sum", 0.0)
        self.correct = state.get("correct", 0)
        self.count = state.get("count", 0)
        self.seconds = state.get("seconds", 0.0)

    def add(self, loss: float, n: int, correct: int | None) -> None:
        self.loss_sum += loss * n
        self.count += n
        if correct is not None:
            self.correct += correct

    def state(self) -> dict:
        return {"loss_sum": self.loss_sum, "correct": self.correct, "count": self.count,
                "seconds": self.seconds}

    @property
    def loss(self) -> float:
        return self.loss_sum / max(self.count, 1)

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.count, 1)


def train_epoch(model, loader, loss_fn, optimizer, meter, *, classify, first_batch=0, bar=None,
                stop=None, inspector=None) -> bool:
    """One pass over the training batches (from ``first_batch`` when resuming mid-epoch).
    Returns False when ``stop`` was set and the epoch was left unfinished.  ``inspector``
    (``--inspect``): a ``chainrule.viz.Inspector`` shown every step's gradients."""
    model.train()  # dropout on
    n = len(loader)
    for b, (xb, yb) in enumerate(loader, start=first_batch):
        optimizer.zero_grad()  # .grad accumulates: clear the previous step's gradients
        out = model(xb)  # 1. forward pass (records the graph)
        loss = loss_fn(out, yb)  # 2. mean loss over the batch
        loss.backward()  # 3. backward pass: d loss / d w for every weight w
        if inspector is not None:  # gradient norms, NaN checks: before the update
            inspector.step(loss, rerun=lambda xb=xb, yb=yb: loss_fn(model(xb), yb))
        optimizer.step()  # 4. update every weight against its gradient

        value = loss.item()
        if not math.isfinite(value):
            raise CLIError(f"training diverged: the loss is {value} at batch {b + 1}; lower "
                           f"--lr or change --optimizer", status=FAILED)
        correct = int((out.argmax(1) == yb).sum().item()) if classify else None
        meter.add(value, len(yb), correct)
        if bar is not None:
            bar.update()
            bar.set_postfix_str(_scores(meter.loss, meter.accuracy if classify else None),
                                refresh=False)
        if stop is not None and stop.is_set() and b + 1 < n:
            return False
    return True


def _scores(loss, acc, prefix="") -> str:
    text = f"{prefix}loss {loss:.4f}"
    return text if acc is None else text + f" {prefix}acc {acc:.4f}"


# --------------------------------------------------------------------------- configuration


def _given(args, name):
    return getattr(args, name, None)


def new_config(args) -> dict:
    """The configuration of a new run from the command line (defaults filled in)."""
    def opt(name):
        v = _given(args, name)
        return DEFAULTS.get(name) if v is None else v

    optimizer, batch_size = opt("optimizer"), opt("batch_size")
    _, extra = OPTIMIZERS[optimizer]
    v = variant(batch_size)
    lr = DEFAULT_LR[optimizer][v] if _given(args, "lr") is None else args.lr
    epochs = DEFAULT_EPOCHS[v] if _given(args, "epochs") is None else args.epochs
    wd = _given(args, "weight_decay")
    training = {
        "loss": _given(args, "loss"), "label_smoothing": _given(args, "label_smoothing"),
        "optimizer": optimizer, "lr": lr, "momentum": extra.get("momentum", 0.0),
        "weight_decay": DEFAULT_WEIGHT_DECAY.get(optimizer, 0.0) if wd is None else wd,
        "batch_size": batch_size, "epochs": epochs, "seed": opt("seed"),
        "lr_schedule": opt("lr_schedule"),
    }
    model = {"hidden": list(opt("hidden")), "activation": opt("activation"),
             "dropout": opt("dropout")}
    data = {"data": opt("data"), "label_column": _given(args, "label_column"),
            "task": _given(args, "task"), "val_fraction": opt("val_fraction"),
            "data_dir": _given(args, "data_dir"), "download": bool(_given(args, "download"))}
    return {"data": data, "model": model, "training": training}


def _finish_config(cfg: dict, prepared) -> dict:
    """Fill in what depends on the data (task, loss, output layer); check the combination."""
    task, training = prepared.task, cfg["training"]
    loss = training["loss"] or models.DEFAULT_LOSS[task]
    if task == "regression" and loss in models.CLASS_LOSSES:
        raise CLIError(f"--loss {loss} needs class labels, but "
                       f"{datasets.describe(prepared.spec)} is a regression task; use "
                       f"--loss mse, l1, smooth_l1 or huber (or --task classification)")
    smoothing = training["label_smoothing"]
    if smoothing is not None and smoothing > 0 and loss != "cross_entropy":
        raise CLIError(f"--label-smoothing applies to --loss cross_entropy, not {loss}")
    if smoothing is None:
        smoothing = DEFAULTS["label_smoothing"] if loss == "cross_entropy" else 0.0
    training.update(loss=loss, label_smoothing=float(smoothing))
    arch = {"in_features": prepared.num_features, **cfg["model"],
            "out_features": prepared.num_outputs, "log_softmax": loss == "nll"}
    spec = dict(prepared.spec)
    if spec["source"] in ("mnist", "fashion-mnist"):
        from ..datasets import data_home

        spec["data_dir"] = os.path.abspath(cfg["data"]["data_dir"] or data_home())
    return {"chainrule_version": __version__,
            "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "data": spec, "model": arch, "training": training}


# Options that --resume takes from the saved run; giving a different value is an error.
_RESUME_FIXED = {
    "hidden": ("model", "hidden"), "activation": ("model", "activation"),
    "dropout": ("model", "dropout"), "loss": ("training", "loss"),
    "label_smoothing": ("training", "label_smoothing"), "optimizer": ("training", "optimizer"),
    "lr": ("training", "lr"), "batch_size": ("training", "batch_size"),
    "weight_decay": ("training", "weight_decay"), "seed": ("training", "seed"),
    "lr_schedule": ("training", "lr_schedule"), "val_fraction": ("data", "val_fraction"),
    "label_column": ("data", "label_column"), "task": ("data", "task"),
}


def _check_resume_options(args, config) -> None:
    for name, (section, key) in _RESUME_FIXED.items():
        given = _given(args, name)
        if given is None:
            continue
        saved = config[section][key]
        if (list(given) if name == "hidden" else given) != saved:
            flag = "--" + name.replace("_", "-")
            raise CLIError(f"{flag} {_show(given)} differs from the resumed run's "
                           f"{_show(saved)}; --resume continues a run as it was configured "
                           f"(only --epochs, --device and --quiet may change, and --data / "
                           f"--data-dir give the new place of moved data); start a new run "
                           f"with --out to train differently")
    if _given(args, "data") is not None:
        source, _ = datasets.source_of(args.data)
        if source != config["data"]["source"]:  # a CSV file's new path is checked by its hash
            raise CLIError(f"--data {args.data} differs from the resumed run's data "
                           f"{config['data']['path'] or config['data']['source']}")
    if _given(args, "out") is not None:
        raise CLIError("--out and --resume don't go together: a resumed run continues in its "
                       "own folder")


def _show(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, list) else str(v)


# --------------------------------------------------------------------------- setting up


def _device(args):
    name = _given(args, "device") or DEFAULTS["device"]
    if name == "cuda" and not backend.cuda_is_available():
        raise CLIError("--device cuda: no CUDA GPU is usable here (CuPy is not installed or "
                       "finds no GPU); use --device cpu")
    return backend.device(name)


def _on(dataset, device):
    if dataset is None or device.type == "cpu":
        return dataset
    return TensorDataset(*(t.to(device) for t in dataset.tensors))


def _optimizer(model, training):
    cls, extra = OPTIMIZERS[training["optimizer"]]
    return cls(model.parameters(), lr=training["lr"], weight_decay=training["weight_decay"],
               **extra)


def _scheduler(opt, training):
    if training["lr_schedule"] == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(opt, T_max=training["epochs"])
    return None


def _batch_words(batch_size) -> str:
    if batch_size == "full":
        return "full-batch gradient descent"
    if batch_size == 1:
        return "stochastic gradient descent (batch 1)"
    return f"mini-batch gradient descent (batch {batch_size})"


class _Run:
    """Everything a training run holds between steps."""

    def __init__(self, run_dir, config, prepared, model, optimizer, scheduler, loader,
                 history, epoch, partial, *, new_dir=False, config_written=True):
        self.dir = run_dir
        self.new_dir = new_dir  # this command created the folder
        self.config_written = config_written
        self.config = config
        self.prepared = prepared
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.loader = loader
        self.history = history
        self.epoch = epoch  # completed epochs
        self.partial = partial  # Meter state of an unfinished epoch, or None

    def checkpoint(self, meter=None) -> None:
        """Save everything that the next step depends on."""
        scaler = dict(self.prepared.scaler)
        rundir.write_checkpoint(self.dir, {
            "config": self.config,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "rng": random.get_rng_state(),
            "loader": self.loader.state_dict(),
            "epoch": self.epoch,
            "partial": None if meter is None else meter.state(),
            "history": self.history,
            "scaler": scaler,
        })
        if not self.config_written:
            rundir.write_json(os.path.join(self.dir, rundir.CONFIG), self.config)
            self.config_written = True

    def write_metrics(self, test=None, total=None) -> None:
        rundir.write_json(os.path.join(self.dir, rundir.METRICS), {
            "task": self.prepared.task, "epochs_completed": self.epoch,
            **_json_safe(self.history), "test": _json_safe(test), "train_time": total,
        })


def _json_safe(obj):
    """NaN/inf (a diverged loss) become null: metrics.json stays strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    return obj


def _empty_history(task: str, has_val: bool) -> dict:
    keys = ["epoch", "train_loss"] + (["train_accuracy"] if task == "classification" else [])
    if has_val:
        keys += ["val_loss"] + (["val_accuracy"] if task == "classification" else [])
    return {k: [] for k in keys + ["epoch_time"]}


def _start_new(args, device) -> _Run:
    cfg = new_config(args)
    prepared = datasets.prepare(cfg["data"])
    config = _finish_config(cfg, prepared)
    run_dir = rundir.new_run_dir(_given(args, "out"), datasets.describe(prepared.spec)
                                 .removesuffix(".csv"))
    random.manual_seed(config["training"]["seed"])  # drives init, dropout and shuffling
    model = models.build(config["model"]).to(device)
    opt = _optimizer(model, config["training"])
    sched = _scheduler(opt, config["training"])
    loader = make_loader(_on(prepared.train, device), config["training"]["batch_size"])
    history = _empty_history(prepared.task, prepared.val is not None)
    created = rundir.create(run_dir)  # only now, when everything has been checked
    # config.json is written with the first checkpoint: a run that fails before it (a loss
    # that diverges in the first epoch) leaves no half-written folder behind
    return _Run(run_dir, config, prepared, model, opt, sched, loader, history, 0, None,
                new_dir=created, config_written=False)


def _resume(args, device) -> _Run:
    run_dir = args.resume
    ckpt = rundir.load_run(run_dir, option="--resume")
    config = ckpt["config"]
    _check_resume_options(args, config)
    data_dir = _given(args, "data_dir")
    prepared = datasets.prepare(
        datasets.options_of(config["data"], data=_given(args, "data"), data_dir=data_dir,
                            download=_given(args, "download")), expect=config["data"])
    moved = dict(config["data"], path=prepared.spec["path"])
    if data_dir is not None:
        moved["data_dir"] = os.path.abspath(data_dir)
    if moved != config["data"]:  # the data has moved: record its new place
        config = {**config, "data": moved}
    training = config["training"]
    epochs = _given(args, "epochs")
    if epochs is not None and epochs != training["epochs"]:
        if training["lr_schedule"] == "cosine":
            raise CLIError(f"--epochs {epochs}: this run's cosine schedule is planned for "
                           f"{training['epochs']} epochs and can't be stretched; resume without "
                           f"--epochs, or start a new run")
        config = {**config, "training": {**training, "epochs": epochs}}
    if ckpt["epoch"] >= config["training"]["epochs"]:
        raise CLIError(f"{run_dir} has already trained {ckpt['epoch']} epochs; pass --epochs "
                       f"N with N > {ckpt['epoch']} to train it further")
    model = rundir.rebuild_model(ckpt, run_dir).to(device)
    opt = _optimizer(model, config["training"])
    sched = _scheduler(opt, config["training"])
    loader = make_loader(_on(prepared.train, device), config["training"]["batch_size"])
    try:
        opt.load_state_dict(ckpt["optimizer"])
        if sched is not None:
            sched.load_state_dict(ckpt["scheduler"])
        loader.load_state_dict(ckpt["loader"])
        random.set_rng_state(ckpt["rng"])  # last: building the model drew from it
    except (ValueError, TypeError, KeyError) as exc:
        raise CLIError(f"the checkpoint in {run_dir} is damaged ({one_line(exc)}); train the "
                       f"run again") from None
    run = _Run(run_dir, config, prepared, model, opt, sched, loader, ckpt["history"],
               ckpt["epoch"], ckpt["partial"])
    if config is not ckpt["config"]:
        rundir.write_json(os.path.join(run_dir, rundir.CONFIG), config)
    return run


# --------------------------------------------------------------------------- the run


class _StopOnCtrlC:
    """While active, the first Ctrl-C asks the loop to stop after the current step (and save);
    a second one interrupts at once."""

    def __init__(self):
        self.event = threading.Event()
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self.event

    def _handle(self, signum, frame):
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _progress(quiet, total, initial, desc):
    if quiet:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="batch", leave=True,
                file=sys.stderr, dynamic_ncols=True)


def run(args) -> int:
    device = _device(args)
    run = _resume(args, device) if _given(args, "resume") else _start_new(args, device)
    try:
        return _train(run, args, device)
    except BaseException:
        if run.new_dir and not run.config_written:  # failed before its first checkpoint
            rundir.remove_if_empty(run.dir)
        raise


def _train(run, args, device) -> int:
    quiet = bool(args.quiet)
    config, prepared = run.config, run.prepared
    training, task = config["training"], prepared.task
    classify = task == "classification"
    loss_fn = models.loss_function(training["loss"], task, prepared.num_outputs,
                                   training["label_smoothing"])
    if not quiet:
        _print_header(run, device)
    inspector = _inspector(run) if _given(args, "inspect") else None

    val_set, test_set = _on(prepared.val, device), _on(prepared.test, device)
    epochs = training["epochs"]
    total_start = time.perf_counter()
    # a diverging run is reported once, as an error, not by NumPy's overflow warnings
    with _StopOnCtrlC() as stop, backend.np.errstate(over="ignore", invalid="ignore",
                                                     divide="ignore"):
        while run.epoch < epochs:
            meter = Meter(run.partial)  # sums so far when resuming mid-epoch
            first = run.loader.state_dict()["next_batch"] if run.partial else 0
            bar = _progress(quiet, len(run.loader), first, f"epoch {run.epoch + 1}/{epochs}")
            try:
                start = time.perf_counter()
                finished = train_epoch(run.model, run.loader, loss_fn, run.optimizer, meter,
                                       classify=classify, first_batch=first, bar=bar,
                                       stop=stop, inspector=inspector)
                meter.seconds += time.perf_counter() - start
                if not finished:  # Ctrl-C mid-epoch: save the position and stop
                    run.checkpoint(meter)
                    run.write_metrics()
                    _plot(run)
                    _write_inspection(run, inspector, quiet)
                    return _stopped(run, meter)
                val = None
                if prepared.val is not None:
                    val = measure(run.model, val_set, config, prepared.scaler, loss_fn)
                    if bar is not None:
                        bar.set_postfix_str(_scores(meter.loss, meter.accuracy if classify
                                                    else None) + "  " +
                                            _scores(val["loss"], val.get("accuracy"), "val "),
                                            refresh=False)
            except CLIError:  # diverged: keep what the inspector saw up to here
                if inspector is not None:
                    inspector.end_epoch()
                    _write_inspection(run, inspector, quiet)
                raise
            finally:
                if bar is not None:
                    bar.close()
            if run.scheduler is not None:
                run.scheduler.step()
            run.epoch += 1
            run.partial = None
            _record(run.history, run.epoch, meter, val, classify)
            if inspector is not None:
                inspector.end_epoch(meter.loss)
            run.checkpoint()
            run.write_metrics()
            if stop.is_set() and run.epoch < epochs:  # Ctrl-C during validation or saving
                _plot(run)
                _write_inspection(run, inspector, quiet)
                return _stopped(run, None)
    elapsed = sum(run.history["epoch_time"])
    test = measure(run.model, test_set, config, prepared.scaler, loss_fn)
    run.write_metrics(test, elapsed)
    _plot(run, test)
    _write_inspection(run, inspector, quiet)
    _print_summary(run, test, elapsed, quiet, time.perf_counter() - total_start,
                   inspected=inspector is not None)
    return 0


def _record(history, epoch, meter, val, classify) -> None:
    history["epoch"].append(epoch)
    history["train_loss"].append(meter.loss)
    if classify:
        history["train_accuracy"].append(meter.accuracy)
    if "val_loss" in history:
        history["val_loss"].append(val["loss"])
        if classify:
            history["val_accuracy"].append(val["accuracy"])
    history["epoch_time"].append(meter.seconds)


def _plot(run, test=None) -> None:
    if run.history["epoch"]:
        smoothing, floor = _smoothing(run)
        report.plot_curves(run.history, test, os.path.join(run.dir, rundir.CURVES),
                           title=f"{datasets.describe(run.config['data'])}: "
                                 f"{models.describe(run.config['model'])}",
                           loss_note=f"with label smoothing {smoothing:g}" if smoothing else "",
                           loss_floor=floor if smoothing else None)


def _smoothing(run) -> tuple[float, float]:
    """The run's label smoothing and the lowest loss it allows (0 without smoothing)."""
    smoothing = run.config["training"]["label_smoothing"]
    if not smoothing or run.prepared.task != "classification":
        return 0.0, 0.0
    return smoothing, models.loss_floor(smoothing, run.prepared.num_outputs)


def _inspector(run):
    """``--inspect``: per-layer statistics of the run's epochs; warnings on stderr.  A
    resumed run goes on from its inspect.json: epochs numbered on, the first epoch's
    gradients still the reference, warnings not repeated."""
    import json

    from ..viz import Inspector

    def warn(message):
        print(f"chainrule train: warning: {message}", file=sys.stderr, flush=True)

    earlier = None
    path = os.path.join(run.dir, INSPECT_JSON)
    if (run.epoch or run.partial) and os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                earlier = json.load(f)
        except (OSError, ValueError):
            earlier = None  # unreadable: inspect this session's epochs only
    inspector = Inspector(run.model, on_warning=warn, resume=earlier)
    inspector.start_at(run.epoch + 1)
    return inspector


def _write_inspection(run, inspector, quiet) -> None:
    """inspect.png (one panel per statistic, one line per layer) and inspect.json."""
    if inspector is None or not inspector.history["epoch"]:
        return
    import io

    path = os.path.join(run.dir, INSPECT)
    png = io.BytesIO()
    inspector.plot(png, title=f"{datasets.describe(run.config['data'])}: "
                              f"{models.describe(run.config['model'])} (--inspect)")
    rundir.write_bytes(path, png.getvalue())  # atomically, as every file of a run
    rundir.write_json(os.path.join(run.dir, INSPECT_JSON), _json_safe(inspector.state()))
    if not quiet:
        print(f"inspector: wrote {path} ({len(inspector.messages)} warning"
              f"{'' if len(inspector.messages) == 1 else 's'})")


def _stopped(run, meter) -> int:
    where = (f"in epoch {run.epoch + 1}, after batch {run.loader.state_dict()['next_batch']} of "
             f"{len(run.loader)}" if meter is not None else f"after epoch {run.epoch}")
    print(f"chainrule train: stopped {where}; checkpoint saved. Continue with: chainrule "
          f"train --resume {run.dir}", file=sys.stderr)
    return INTERRUPTED


def _print_header(run, device) -> None:
    spec, training = run.prepared.spec, run.config["training"]
    parts = f"{spec['num_train']} train / {spec['num_val']} validation / {spec['num_test']} test"
    what = (f"{len(spec['classes'])} classes" if spec["task"] == "classification"
            else f"regression of {spec['label_column']!r}")
    print(f"data:  {datasets.describe(spec)} ({parts} rows, {len(spec['feature_names'])} "
          f"features, {what})")
    loss = training["loss"] + (f" (label smoothing {training['label_smoothing']:g})"
                               if training["label_smoothing"] else "")
    extra = f", weight decay {training['weight_decay']:g}" if training["weight_decay"] else ""
    sched = ", cosine schedule" if training["lr_schedule"] == "cosine" else ""
    if spec["task"] == "regression":
        loss += " (on standardized targets)"
    print(f"model: {models.describe(run.config['model'])}, loss {loss}")
    print(f"train: {training['optimizer']} lr {training['lr']:g}{extra}{sched}, "
          f"{_batch_words(training['batch_size'])}, {training['epochs']} epochs, seed "
          f"{training['seed']}, {device.type}")
    if run.epoch or run.partial:
        print(f"resuming {run.dir} after {run.epoch} epochs")
    print(f"run:   {run.dir}")
    sys.stdout.flush()


def _print_summary(run, test, elapsed, quiet, wall, inspected=False) -> None:
    classify = run.prepared.task == "classification"
    if classify:
        result = (f"test accuracy {test['accuracy']:.4f} ({test['correct']}/{test['count']}), "
                  f"test loss {test['loss']:.4f}")
    else:
        result = (f"test RMSE {test['rmse']:.4g}, MAE {test['mae']:.4g}, R^2 {test['r2']:.4f}")
    if quiet:
        print(f"{result}; run saved to {run.dir}")
        return
    print()
    print(report.epoch_table(run.history))
    smoothing, floor = _smoothing(run)
    if smoothing:  # otherwise a loss that levels off near 0.5 looks like a training problem
        print(f"  (losses include label smoothing {smoothing:g}: the lowest possible loss is "
              f"{floor:.4f}, not 0; --label-smoothing 0 turns it off)")
    print()
    print(result)
    files = [rundir.CHECKPOINT, rundir.CONFIG, rundir.METRICS, rundir.CURVES]
    if inspected:
        files += [INSPECT, INSPECT_JSON]
    print(f"trained {run.epoch} epochs in {elapsed:.1f} s (this session {wall:.1f} s); wrote "
          f"{', '.join(files)} to {run.dir}")
