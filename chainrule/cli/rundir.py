"""The run folder: what ``chainrule train`` writes, and how the other commands read it back.

A run folder holds

* ``checkpoint.safetensors``: everything needed to rebuild and continue the run
  (``chainrule.save``: safetensors + JSON, no pickle): the config, model and optimizer
  state_dicts, the scheduler's state, the random generator's state, the completed epochs,
  the data loader's position, the metrics so far and the standardization statistics;
* ``config.json``: the run's configuration (data, model, training), for people and tools;
* ``metrics.json``: per-epoch training/validation loss and accuracy, and test metrics;
* ``curves.png`` (and ``confusion.png`` after ``chainrule eval``).

Every file is written atomically (a temporary file in the same folder, then a rename), so
a crash or Ctrl-C never leaves a half-written file.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets

from .. import nn
from ..serialization import load, save
from . import model as models
from .errors import CLIError, one_line

CHECKPOINT, CONFIG, METRICS = "checkpoint.safetensors", "config.json", "metrics.json"
CURVES, CONFUSION = "curves.png", "confusion.png"
FORMAT, VERSION = "chainrule.run", 1
_REQUIRED = ("config", "model", "optimizer", "rng", "loader", "epoch", "history", "scaler")


# --------------------------------------------------------------------------- writing


def write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file, fsync, then rename."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: str, obj) -> None:
    """``obj`` as indented JSON (lists of plain values on one line), atomically."""
    write_bytes(path, (_dumps(obj, "") + "\n").encode("utf-8"))


def _dumps(obj, indent: str) -> str:
    inner = indent + "  "
    if isinstance(obj, dict) and obj:
        items = [f"{inner}{json.dumps(str(k))}: {_dumps(v, inner)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(inner + _dumps(v, inner) for v in obj) + "\n" + indent + "]"
    return json.dumps(obj, allow_nan=False)


def write_checkpoint(run_dir: str, state: dict) -> None:
    save({"format": FORMAT, "version": VERSION, **state}, os.path.join(run_dir, CHECKPOINT))


def new_run_dir(out: str | None, name: str) -> str:
    """The folder for a new run (not created yet): ``out``, or ``runs/<time>-<name>``.
    An existing ``out`` must be an empty folder."""
    if out is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = os.path.join("runs", f"{stamp}-{name}")
        out, i = base, 2
        while os.path.exists(out):
            out, i = f"{base}-{i}", i + 1
        return out
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise CLIError(f"--out {out} is a file; give a folder for the run")
        if os.listdir(out):
            if os.path.exists(os.path.join(out, CHECKPOINT)):
                hint = f"continue it with --resume {out}, or "
            else:  # e.g. only the --inspect record of a run that diverged in its first epoch
                hint = "it holds no checkpoint to resume; delete it or "
            raise CLIError(f"--out {out} already exists and is not empty; {hint}choose a new "
                           f"folder")
    return out


def create(run_dir: str) -> bool:
    """Create the run folder; True if this call created it (False: it existed, empty)."""
    existed = os.path.isdir(run_dir)
    try:
        os.makedirs(run_dir, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"can't create the run folder {run_dir}: {exc.strerror or exc}") from None
    return not existed


def remove_if_empty(run_dir: str) -> bool:
    """Remove ``run_dir`` if it is an empty folder (a run that failed before its first
    checkpoint); True if it was removed."""
    try:
        os.rmdir(run_dir)  # only ever removes an empty folder
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------- reading


def _describe_error(exc: BaseException) -> str:
    text = one_line(exc)
    return text.split(" is not a chainrule checkpoint ", 1)[-1].strip("()") if \
        " is not a chainrule checkpoint " in text else text


def load_run(run_dir: str, *, option: str = "RUN_DIR") -> dict:
    """The checkpoint of the run in ``run_dir``, checked: it must be a checkpoint written by
    ``chainrule train`` and agree with the folder's ``config.json``."""
    if not os.path.exists(run_dir):
        raise CLIError(f"{option} {run_dir} does not exist; give a run folder written by "
                       f"chainrule train")
    if not os.path.isdir(run_dir):
        raise CLIError(f"{option} {run_dir} is a file, not a run folder; give the folder that "
                       f"holds {CHECKPOINT}")
    path = os.path.join(run_dir, CHECKPOINT)
    if not os.path.isfile(path):
        raise CLIError(f"{run_dir} has no {CHECKPOINT}; is it a run folder written by chainrule "
                       f"train?")
    try:
        ckpt = load(path)
    except ValueError as exc:
        raise CLIError(f"{path} is not a chainrule checkpoint or is damaged "
                       f"({_describe_error(exc)}); train the run again") from None
    except OSError as exc:
        raise CLIError(f"can't read {path}: {exc.strerror or exc}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CLIError(f"{path} is a safetensors file but not a run checkpoint written by "
                       f"chainrule train; give a run folder written by chainrule train")
    if ckpt.get("version") != VERSION:
        raise CLIError(f"{path} is a run checkpoint of version {ckpt.get('version')!r}; this "
                       f"chainrule reads version {VERSION}")
    missing = [k for k in _REQUIRED if k not in ckpt]
    config = ckpt.get("config")
    if missing or not isinstance(config, dict) or not {"data", "model", "training"} <= set(
            config):
        raise CLIError(f"{path} is an incomplete run checkpoint (missing "
                       f"{', '.join(missing) or 'config entries'}); train the run again")
    _check_config_file(run_dir, config)
    return ckpt


def _check_config_file(run_dir: str, config: dict) -> None:
    """The checkpoint must belong to this folder's run: same data and architecture."""
    path = os.path.join(run_dir, CONFIG)
    if not os.path.isfile(path):
        return  # the checkpoint carries its own config
    try:
        with open(path, encoding="utf-8") as f:
            on_disk = json.load(f)
    except (OSError, ValueError) as exc:
        raise CLIError(f"{path} is not readable JSON ({one_line(exc)}); restore it or delete "
                       f"it (the checkpoint holds the config too)") from None
    if not isinstance(on_disk, dict):
        raise CLIError(f"{path} is not a run configuration; restore it or delete it")
    if on_disk.get("model") != config["model"]:
        theirs = on_disk.get("model")
        what = "an " + models.describe(theirs) if _is_arch(theirs) else "another model"
        raise CLIError(f"{CHECKPOINT} in {run_dir} holds an {models.describe(config['model'])}, "
                       f"but its {CONFIG} describes {what}: the checkpoint comes from another "
                       f"run; put back this run's checkpoint")
    if _data_identity(on_disk.get("data")) != _data_identity(config["data"]):
        raise CLIError(f"{CHECKPOINT} in {run_dir} was trained on other data than its {CONFIG} "
                       f"describes: the checkpoint comes from another run; put back this run's "
                       f"checkpoint")


def _data_identity(data):
    """A data spec without its file places (a resumed run may record that its CSV file or
    MNIST folder has moved; the data is the same, as the SHA-256 and the labels say)."""
    if not isinstance(data, dict):
        return data
    return {k: v for k, v in data.items() if k not in ("path", "data_dir")}


def _is_arch(arch) -> bool:
    keys = {"in_features", "hidden", "out_features", "activation", "dropout", "log_softmax"}
    return isinstance(arch, dict) and keys <= set(arch)


def rebuild_model(ckpt: dict, run_dir: str) -> nn.Sequential:
    """The run's network with the checkpoint's weights."""
    arch = ckpt["config"]["model"]
    if not _is_arch(arch) or arch["activation"] not in models.ACTIVATIONS:
        raise CLIError(f"the checkpoint in {run_dir} describes no model chainrule can build; "
                       f"train the run again")
    model = models.build(arch)
    weights = ckpt["model"]
    expected = model.state_dict()
    problem = None
    if not isinstance(weights, dict):
        problem = "it holds no weights"
    else:
        for key, value in expected.items():
            got = weights.get(key)
            if got is None:
                problem = f"it lacks {key}"
            elif tuple(getattr(got, "shape", ())) != tuple(value.shape):
                problem = (f"{key} has shape {tuple(getattr(got, 'shape', ()))}, the model's is "
                           f"{tuple(value.shape)}")
            if problem:
                break
        extra = sorted(set(weights) - set(expected))
        if problem is None and extra:
            problem = f"it has weights the model lacks: {', '.join(map(str, extra[:4]))}"
    if problem is None:
        try:
            model.load_state_dict(weights)
        except (RuntimeError, TypeError) as exc:
            problem = one_line(exc)
    if problem is not None:
        raise CLIError(f"the weights in {os.path.join(run_dir, CHECKPOINT)} don't fit its "
                       f"{models.describe(arch)}: {problem}; the checkpoint comes from another "
                       f"architecture or is damaged")
    return model
