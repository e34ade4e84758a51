"""The network ``chainrule train`` builds, its loss, and how its outputs become predictions.

The model is a multilayer perceptron described by a small JSON-able ``arch`` dict, saved in
every run so that ``eval``, ``predict`` and ``--resume`` rebuild the same network::

    {"in_features": 64, "hidden": [128, 64], "out_features": 10,
     "activation": "relu", "dropout": 0.0, "log_softmax": false}

gives ``Linear(64, 128), ReLU, Linear(128, 64), ReLU, Linear(64, 10)`` (with a ``Dropout``
after each activation when ``dropout > 0``, and a final ``LogSoftmax`` for the ``nll`` loss).
"""

from __future__ import annotations

import math

from .. import nn
from ..nn import functional as F

ACTIVATIONS = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "silu": nn.SiLU,
}

# loss name -> function(output, target) on regression-style targets of the output's shape
_REGRESSION_LOSSES = {
    "mse": F.mse_loss, "l1": F.l1_loss, "smooth_l1": F.smooth_l1_loss, "huber": F.huber_loss,
}
LOSSES = ("cross_entropy", "nll", *_REGRESSION_LOSSES)
CLASS_LOSSES = ("cross_entropy", "nll")  # need class labels: classification only
DEFAULT_LOSS = {"classification": "cross_entropy", "regression": "mse"}


def build(arch: dict) -> nn.Sequential:
    """The network described by ``arch`` (freshly initialized from chainrule's generator)."""
    layers, width = [], arch["in_features"]
    for h in arch["hidden"]:
        layers += [nn.Linear(width, h), ACTIVATIONS[arch["activation"]]()]
        if arch["dropout"] > 0:
            layers.append(nn.Dropout(arch["dropout"]))
        width = h
    layers.append(nn.Linear(width, arch["out_features"]))
    if arch["log_softmax"]:
        layers.append(nn.LogSoftmax(dim=1))
    return nn.Sequential(*layers)


def describe(arch: dict) -> str:
    """``MLP 64-128-64-10 relu`` (with dropout and log-softmax when used)."""
    sizes = [arch["in_features"], *arch["hidden"], arch["out_features"]]
    text = "MLP " + "-".join(map(str, sizes)) + " " + (arch["activation"] if arch["hidden"]
                                                       else "(no hidden layer)")
    if arch["dropout"] > 0:
        text += f" dropout {arch['dropout']:g}"
    return text + (" log-softmax" if arch["log_softmax"] else "")


def loss_function(loss: str, task: str, num_outputs: int, label_smoothing: float = 0.0):
    """``fn(output, target) -> mean loss over the batch``.

    For classification ``target`` holds class indices: ``cross_entropy`` takes logits,
    ``nll`` log-probabilities (the model ends in LogSoftmax), and the regression losses
    compare the outputs with one-hot targets.  For regression ``target`` is (N, 1).
    """
    if loss == "cross_entropy":
        return lambda out, y: F.cross_entropy(out, y, label_smoothing=label_smoothing)
    if loss == "nll":
        return F.nll_loss
    fn = _REGRESSION_LOSSES[loss]
    if task == "regression":
        return fn
    return lambda out, y: fn(out, F.one_hot(y, num_outputs).to(out.dtype))


def loss_floor(label_smoothing: float, num_classes: int) -> float:
    """The smallest cross-entropy reachable against label-smoothed targets: the entropy of
    the smoothed target (1 - e + e/C on the true class, e/C on each other one), > 0 for e > 0.
    With e = 0.1 and 10 classes it is about 0.50, which is where the training loss levels off.
    """
    e, c = float(label_smoothing), int(num_classes)
    if e <= 0 or c < 2:
        return 0.0
    high, low = 1.0 - e + e / c, e / c
    return -(high * math.log(high) + (c - 1) * low * math.log(low))


def probabilities(output, loss: str):
    """Class probabilities from a classifier's outputs, or None when its loss doesn't make
    its outputs probabilities (the regression losses on one-hot targets)."""
    if loss == "cross_entropy":
        return F.softmax(output, dim=1)
    if loss == "nll":
        return output.exp()
    return None
