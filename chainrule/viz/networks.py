"""The small networks ``chainrule explain`` walks through, built from the library's own ops.

``chain_network``: single units in a row, x -> h1 -> ... -> h_depth -> prediction ->
cross-entropy loss, with z_i = w_i h_(i-1), h_i = act(z_i), prediction ŷ = σ(w z) and
the binary cross-entropy loss.  ``mlp_network``: full layers (``nn.Linear``) with the same
activation and the softmax cross-entropy loss, on one data point.  Both return an
``Example``: the loss, what names each value, and the settings used.
"""

from __future__ import annotations

from collections import OrderedDict

from .. import creation, nn
from .. import random as cr_random
from ..backend import float64
from ..nn import functional as F
from .trace import record

ACTIVATIONS = {
    "sigmoid": ("σ", lambda z: z.sigmoid(), nn.Sigmoid),
    "tanh": ("tanh", lambda z: z.tanh(), nn.Tanh),
    "relu": ("relu", lambda z: z.relu(), nn.ReLU),
}
DERIVATIVE = {"sigmoid": "σ′", "tanh": "tanh′", "relu": "relu′"}


class Example:
    """``loss`` (a Tensor whose graph keeps every value), ``names`` ({symbol: tensor}),
    ``params`` (the Module, or None), ``settings`` ({label: value}), ``notes``, ``title``,
    ``subtitle``."""

    def __init__(self, loss, names, params, settings, notes, title, subtitle):
        self.loss = loss
        self.names = names
        self.params = params
        self.settings = settings
        self.notes = notes
        self.title = title
        self.subtitle = subtitle


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")


def chain_network(depth: int = 3, activation: str = "sigmoid", seed: int = 0,
                  x: float = 1.0, y: int = 1, weights=None) -> Example:
    """The chain of single units on one data point (x, y), float64.

    Weights w1..w_(depth+1) are drawn from N(0, 1) with ``seed`` (or given as
    ``weights``); w_(depth+1) feeds the prediction ŷ = σ(z_(depth+1)).  For ``relu`` the
    drawn hidden weights w1..w_depth are taken with the sign that makes every z_i positive
    (|w_i|, and w1 the sign of x): a unit with z <= 0 is off, passes no gradient back, and
    a chain with one such unit would teach nothing below it.
    """
    if not 1 <= depth <= 12:
        raise ValueError(f"depth must be between 1 and 12, got {depth}")
    _check_activation(activation)
    if y not in (0, 1):
        raise ValueError(f"y must be 0 or 1 (the class of the data point), got {y}")
    n = depth + 1
    if weights is None:
        gen = cr_random.Generator().manual_seed(seed)
        weights = [float(v) for v in cr_random.normal_array((n,), 0.0, 1.0, float64.np,
                                                             generator=gen)]
        if activation == "relu":  # every unit on: z_i = w_i h_(i-1) > 0 (see above)
            weights[:depth] = [abs(w) for w in weights[:depth]]
            weights[0] = weights[0] if x >= 0 else -weights[0]
    weights = [float(v) for v in weights]
    if len(weights) != n:
        raise ValueError(f"expected {n} weights for depth {depth}, got {len(weights)}")
    sig, act, _ = ACTIVATIONS[activation]
    names = {}
    xt = creation.tensor(float(x), dtype=float64)
    yt = creation.tensor(float(y), dtype=float64)
    names["x"], names["y"] = xt, yt
    ws = []
    for i, w in enumerate(weights, 1):
        t = creation.tensor(w, dtype=float64, requires_grad=True)
        t._name = f"w{i}"
        ws.append(t)
    with record():
        h = xt
        for i in range(1, depth + 1):
            z = ws[i - 1] * h
            h = act(z)
            names[f"z{i}"], names[f"h{i}"] = z, h
        z = ws[depth] * h
        pred = z.sigmoid()
        names[f"z{n}"], names["ŷ"] = z, pred
        loss = F.binary_cross_entropy(pred, yt, reduction="none")
    names["L"] = loss
    for w in ws:
        names[w._name] = w
    d = DERIVATIVE[activation]
    notes = {}
    for i in range(1, depth):
        notes[f"dh{i}"] = (
            f"With the step before, this is one layer of the chain rule: "
            f"⟪L|h{i}⟫ = ⟪L|h{i + 1}⟫ · {d}(⟦z{i + 1}⟧) · ⟦w{i + 1}⟧.")
    for i in range(1, n + 1):
        below = "x" if i == 1 else f"h{i - 1}"
        gate = "σ′" if i == n else d
        above = "ŷ" if i == n else f"h{i}"
        notes[f"dz{i}"] = (f"And so ⟪L|w{i}⟫ = ⟪L|{above}⟫ · {gate}(⟦z{i}⟧) · ⟦{below}⟧, "
                           f"the gradient for weight w{i}.")
    notes["ŷ"] = "The prediction: the probability the network gives to class 1."
    notes["L"] = "The cross-entropy loss: −log of the probability given to the true class y."
    settings = OrderedDict([("depth", depth), ("activation", activation), ("seed", seed),
                            ("x", x), ("y", y)])
    title = f"Backpropagation through a chain of {depth} {activation} unit" + (
        "s" if depth > 1 else "")
    chain = " → ".join(["x"] + [f"h{i}" for i in range(1, depth + 1)] + ["ŷ", "L"])
    subtitle = (f"{chain}, on one data point. Each unit computes z = w · (the value below) "
                f"and h = {sig}(z); the prediction is ŷ = σ(z{n}).")
    return Example(loss, names, None, settings, notes, title, subtitle)


class MLP(nn.Module):
    """Linear layers ``fc1``, ``fc2``, ... with an activation between them."""

    def __init__(self, sizes, activation="relu"):
        super().__init__()
        _check_activation(activation)
        self.sizes = list(sizes)
        self.activation = activation
        for i, (a, b) in enumerate(zip(sizes, sizes[1:]), 1):
            setattr(self, f"fc{i}", nn.Linear(a, b, dtype=float64))

    def forward(self, x, names=None):
        act = ACTIVATIONS[self.activation][1]
        n = len(self.sizes) - 1
        h = x
        for i in range(1, n + 1):
            z = getattr(self, f"fc{i}")(h)
            if names is not None:
                names[f"z{i}"] = z
            if i < n:
                h = act(z)
                if names is not None:
                    names[f"h{i}"] = h
            else:
                h = z
        return h


def parse_layers(text: str):
    try:
        sizes = [int(s) for s in str(text).replace(" ", "").split(",") if s]
    except ValueError:
        raise ValueError(f"--layers must be sizes separated by commas, like 2,3,2; got "
                         f"{text!r}") from None
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(f"--layers needs at least an input and an output size, each >= 1; "
                         f"got {text!r}")
    if sizes[-1] < 2:
        raise ValueError("--layers: the last size is the number of classes and must be >= 2")
    return sizes


def mlp_network(sizes=(2, 3, 2), activation: str = "relu", seed: int = 0, x=None,
                y: int | None = None, model=None) -> Example:
    """A small MLP (``model``, or a fresh ``MLP(sizes)``; seeds chainrule's generator with
    ``seed`` first) on one data point:
    ``x`` (a list of ``sizes[0]`` numbers; N(0, 1) from the seed by default) and class
    ``y`` (default 0)."""
    cr_random.manual_seed(seed)
    if model is None:
        model = MLP(sizes, activation)
    first = next(iter(model.parameters()))
    dtype = first.dtype
    if x is None:
        x = [float(v) for v in cr_random.normal_array((sizes[0],), 0.0, 1.0, float64.np)]
    xt = creation.tensor([list(x)], dtype=dtype)
    if xt.shape[1] != sizes[0]:
        raise ValueError(f"the data point has {xt.shape[1]} features; the model expects "
                         f"{sizes[0]}")
    y = 0 if y is None else int(y)
    if not 0 <= y < sizes[-1]:
        raise ValueError(f"y must be a class index in [0, {sizes[-1]}), got {y}")
    yt = creation.tensor([y])
    names = {"x": xt, "y": yt}
    with record():
        if isinstance(model, MLP):
            logits = model(xt, names)
        else:
            logits = model(xt)
        loss = F.cross_entropy(logits, yt)
    names["L"] = loss
    settings = OrderedDict([("layers", ",".join(str(s) for s in sizes)), ("activation",
                            activation), ("seed", seed), ("y", y)])
    title = "Backpropagation through a " + "-".join(str(s) for s in sizes) + " network"
    subtitle = ("Full layers in vector and matrix form: each layer computes z = h Wᵀ + b; "
                "in the backward pass each gradient is the row vector of the layer above "
                "times the local Jacobian.")
    return Example(loss, names, model, settings, {}, title, subtitle)


def model_example(model, x, y, loss_fn, *, title: str, subtitle: str = "",
                  settings=None) -> Example:
    """Any model on one data point: ``x`` (1, features) and ``y`` (what ``loss_fn(output,
    y)`` takes).  The outputs of weight layers are named z1, z2, ... and those of the
    activations after them h1, h2, ...; parameters by their module names."""
    names = {"x": x, "y": y}
    count = [0]
    handles = []

    def layer_hook(module, args, out):
        count[0] += 1
        names[f"z{count[0]}"] = out

    def act_hook(module, args, out):
        if count[0]:
            names[f"h{count[0]}"] = out

    from .inspector import _is_activation

    for _, m in model.named_modules():
        if "weight" in m._parameters and m._parameters["weight"] is not None:
            handles.append(m.register_forward_hook(layer_hook))
        elif _is_activation(m):
            handles.append(m.register_forward_hook(act_hook))
    was_training = model.training
    model.eval()  # dropout off: the walk-through shows the network as it predicts
    try:
        with record():
            loss = loss_fn(model(x), y)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    names["L"] = loss
    return Example(loss, names, model, OrderedDict(settings or {}), {}, title, subtitle)
