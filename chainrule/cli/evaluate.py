"""``chainrule eval RUN_DIR``: rebuild a trained model and measure it on its test set.

Prints the test accuracy, per-class precision / recall / F1 and the confusion matrix, and
writes ``confusion.png`` into the run folder (for regression: loss, RMSE, MAE and R^2).
``measure`` is also what ``chainrule train`` uses for its validation and test numbers.
"""

from __future__ import annotations

import os

from .. import backend
from ..autograd import no_grad
from ..ops.functional import cat
from . import data as datasets
from . import model as models
from . import report, rundir

_np = backend.np

EVAL_BATCH = 1024  # rows per forward pass when measuring (bounds memory on MNIST)


def outputs(model, x, batch: int = EVAL_BATCH):
    """The model's outputs for all rows of ``x`` in evaluation mode (dropout off)."""
    model.eval()
    with no_grad():
        return cat([model(x[i:i + batch]) for i in range(0, len(x), batch)], 0)


def measure(model, dataset, config: dict, scaler: dict, loss_fn, *, details: bool = False):
    """Loss and accuracy (classification) or loss, RMSE, MAE and R^2 in the label's own
    units (regression) of ``model`` on ``dataset``.  With ``details`` the result also holds
    ``y_true`` and ``y_pred`` (NumPy arrays)."""
    x, y = dataset.tensors
    n = len(y)
    loss_sum = 0.0
    model.eval()
    with no_grad():
        outs = []
        for i in range(0, n, EVAL_BATCH):
            out = model(x[i:i + EVAL_BATCH])
            loss_sum += loss_fn(out, y[i:i + EVAL_BATCH]).item() * len(out)
            outs.append(out)
        out = cat(outs, 0)
    result = {"loss": loss_sum / n, "count": n}
    truth = backend.to_numpy(y.data)
    if config["data"]["task"] == "classification":
        pred = backend.to_numpy(out.argmax(1).data)
        correct = int((pred == truth).sum())
        result.update(accuracy=correct / n, correct=correct)
    else:
        s, m = scaler["y_std"], scaler["y_mean"]
        pred = backend.to_numpy(out.data).astype(_np.float64)[:, 0] * s + m
        truth = truth.astype(_np.float64)[:, 0] * s + m
        err = pred - truth
        mse = float(_np.mean(err ** 2))
        var = float(_np.var(truth))
        result.update(mse=mse, rmse=mse ** 0.5, mae=float(_np.mean(_np.abs(err))),
                      r2=1.0 - mse / var if var > 0 else 0.0)
    if details:
        result.update(y_true=truth, y_pred=pred)
    return result


def run(args) -> int:
    run_dir = args.run_dir
    ckpt = rundir.load_run(run_dir)
    config = ckpt["config"]
    spec, training = config["data"], config["training"]
    prepared = datasets.prepare(  # --data / --data-dir: where the run's data has moved
        datasets.options_of(spec, data=getattr(args, "data", None),
                            data_dir=getattr(args, "data_dir", None),
                            download=getattr(args, "download", None)), expect=spec)
    model = rundir.rebuild_model(ckpt, run_dir)
    loss_fn = models.loss_function(training["loss"], spec["task"], prepared.num_outputs,
                                   training["label_smoothing"])
    m = measure(model, prepared.test, config, prepared.scaler, loss_fn, details=True)
    done = f"{ckpt['epoch']} of {training['epochs']} epochs"
    print(f"run:  {run_dir} ({models.describe(config['model'])}, trained {done} on "
          f"{datasets.describe(spec)})")
    if spec["task"] != "classification":
        print(f"test ({m['count']} rows): loss {m['loss']:.4f}, RMSE {m['rmse']:.4g}, "
              f"MAE {m['mae']:.4g}, R^2 {m['r2']:.4f}")
        return 0
    classes = spec["classes"]
    matrix = report.confusion_matrix(m["y_true"], m["y_pred"], len(classes))
    stats = report.per_class(matrix)
    print(f"test accuracy {m['accuracy']:.4f} ({m['correct']}/{m['count']}), test loss "
          f"{m['loss']:.4f}")
    print()
    rows = [[str(c), s["precision"], s["recall"], s["f1"], s["support"]]
            for c, s in zip(classes, stats)]
    macro = [sum(s[k] for s in stats) / len(stats) for k in ("precision", "recall", "f1")]
    rows.append(["macro average", *macro, m["count"]])
    print(report.table(["class", "precision", "recall", "f1", "support"], rows))
    print()
    print("confusion matrix (rows: true class, columns: predicted class)")
    print(report.confusion_text(matrix, classes))
    path = os.path.join(run_dir, rundir.CONFUSION)
    report.plot_confusion(matrix, classes, path,
                          title=f"{datasets.describe(spec)} test set: accuracy "
                                f"{m['accuracy']:.4f}")
    print()
    print(f"wrote {path}")
    return 0
