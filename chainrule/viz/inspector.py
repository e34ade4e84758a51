"""The training inspector: per layer and per epoch, how activations, gradients and updates
behave, with warnings for the classic failures of backpropagation.

    insp = chainrule.viz.Inspector(model)
    for epoch in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            insp.step(loss, rerun=lambda: loss_fn(model(xb), yb))  # before opt.step()
            opt.step()
        insp.end_epoch()
    insp.plot("inspect.png")

A *layer* is a module with a ``weight`` parameter (``Linear``, ...).  Its activations are
what the activation after it outputs: an activation module (``nn.ReLU``, ``nn.Tanh``...)
that runs next, or a ``relu`` / ``tanh`` / ``sigmoid`` op applied to the layer's output
in ``forward`` (``F.relu(self.fc1(x))``, ``.relu()``: found in the recorded graph); the
layer's own outputs when neither follows (``activation`` says which, per layer; a hidden
layer with none gets one ``InspectorWarning``).  Only training-mode forwards count.  Per
epoch:

* activation mean and standard deviation over every sample and unit;
* dead ReLU fraction: the share of units that were never positive during the epoch
  (layers followed by a ReLU);
* gradient norm: the L2 norm of the layer's parameter gradients, averaged over the steps;
* update-to-weight ratio: ||w_after - w_before|| / ||w_before|| of each optimizer step,
  averaged over the steps (around 1e-3 is healthy).

Warnings (``InspectorWarning``, or ``on_warning(message)``), naming the layer (``layer 2
(Linear 128→64)``): a layer's gradient norm below 1e-7 or above 1e3 times its first
epoch's (vanishing / exploding gradients); more than half of a layer's ReLUs dead; a NaN
or infinite loss (or gradient), naming the first op that produced it and the module it ran
in -- found by running the step again in anomaly mode.

``state()`` is everything recorded, as JSON-able data; ``Inspector(model, resume=state)``
goes on from it (``chainrule train --inspect --resume``): the epochs continue, and the
first epoch of the original run stays the reference for vanishing/exploding gradients.
"""

from __future__ import annotations

import math
import warnings

from .. import backend
from .._errors import OpError
from ..autograd.anomaly import detect_anomaly
from ..autograd.api import grad as autograd_grad
from ..autograd.engine import topological_order
from ..ops.registry import Node
from ..tensor import Tensor

_np = backend.np

VANISH = 1e-7
EXPLODE = 1e3
DEAD = 0.5
STATS = ("act_mean", "act_std", "dead_frac", "grad_norm", "update_ratio")
TITLES = {
    "act_mean": "activation mean", "act_std": "activation std",
    "dead_frac": "dead ReLU fraction", "grad_norm": "gradient norm",
    "update_ratio": "update / weight ratio", "loss": "training loss",
}
_NOT_ACTIVATIONS = ("Softmax", "LogSoftmax", "Softmin", "Dropout", "Identity", "Flatten",
                    "Unflatten")


class InspectorWarning(UserWarning):
    """A training pathology the inspector noticed."""


def _is_activation(module) -> bool:
    cls = type(module)
    return (cls.__module__.endswith("nn.activation") and cls.__name__ not in _NOT_ACTIVATIONS
            and not module._parameters and not module._modules)


def _np64(t):
    return _np.asarray(backend.to_numpy(t.data if isinstance(t, Tensor) else t),
                       dtype=_np.float64)


def _float(v) -> float:
    return float("nan") if v is None else float(v)  # JSON writes NaN as null


def _sigmoid(z):
    return 0.5 * (1.0 + _np.tanh(0.5 * z))  # no overflow for large |z|


# activation ops written in forward (F.relu, .tanh()...): what they compute, for the
# statistics of the layer whose output they read
_FUNCTIONAL = {"relu": lambda z: _np.maximum(z, 0.0), "tanh": _np.tanh, "sigmoid": _sigmoid}


def _op_consumers(output) -> dict:
    """``{id(node): [names of the ops that read its output]}`` for the graph behind the
    tensors in ``output`` (a Tensor, or a tuple/list/dict holding some)."""
    if isinstance(output, dict):
        output = list(output.values())
    tensors = output if isinstance(output, (tuple, list)) else [output]
    roots = [t._node for t in tensors if isinstance(t, Tensor) and t._node is not None]
    consumers = {}
    for node in topological_order(roots):
        for e in node.edges:
            if type(e) is Node:
                consumers.setdefault(id(e), []).append(node.prim.name)
    return consumers


class _Layer:
    def __init__(self, name, module):
        self.name = name
        self.module = module
        inp, out = getattr(module, "in_features", None), getattr(module, "out_features", None)
        self.kind = type(module).__name__ + (f" {inp}→{out}" if inp and out else "")
        self.label = f"{name}: {self.kind}" if name != type(module).__name__ else self.kind
        # how warnings name it: "layer 2 (Linear 128→64)"
        self.title = (f"layer {name} ({self.kind})" if name != type(module).__name__ else
                      f"layer {self.kind}")
        self.params = [p for p in module.parameters()]
        self.activation = None  # what its activations are read from (see Inspector)
        self.reset()

    def reset(self):
        self.act_sum = self.act_sq = 0.0
        self.act_n = 0
        self.alive = None  # per unit: ever positive this epoch (ReLU layers)
        self.relu = False
        self.grad_norms = []
        self.ratios = []
        self.before = None  # weights before the pending optimizer step


class Inspector:
    """Records per-layer statistics of ``model`` while it trains (see the module doc).

    ``on_warning(message)``: called for each warning (default: ``warnings.warn`` with
    ``InspectorWarning``).  ``resume``: a ``state()`` of an earlier inspection of this
    model, to go on from (its epochs, warnings and first-epoch reference).  ``history``:
    ``{"epoch": [...], "loss": [...], stat: {layer: [...]}}``; ``messages``: every warning
    given; ``activation``: ``{layer: what its activations are}``.  Use as a context
    manager, or call ``close()``, to remove the hooks.
    """

    def __init__(self, model, on_warning=None, *, resume=None):
        self.model = model
        self.on_warning = on_warning
        self.layers = []
        self._handles = []
        self._pending = []  # (layer, output) of this forward, not yet given activations
        self._functional = {}  # layer name -> the activation op found after it (or None)
        self._paused = False  # while the NaN diagnosis runs a step again
        for name, m in model.named_modules():
            if "weight" in m._parameters and m._parameters["weight"] is not None:
                layer = _Layer(name or type(m).__name__, m)
                self.layers.append(layer)
                self._handles.append(m.register_forward_hook(self._layer_hook(layer)))
            elif _is_activation(m):
                self._handles.append(m.register_forward_hook(self._activation_hook(m)))
        if not self.layers:
            raise ValueError("Inspector: the model has no layer with a weight parameter")
        self._handles.append(model.register_forward_hook(self._model_done))
        self.history = {"epoch": [], "loss": []}
        for s in STATS:
            self.history[s] = {layer.name: [] for layer in self.layers}
        self.first_grad = {}
        self.messages = []
        self._warned = set()
        self._epoch_loss = []
        self.nan_report = None
        self._next_epoch = 1
        if resume is not None:
            self._resume(resume)

    @property
    def activation(self) -> dict:
        return {layer.name: layer.activation for layer in self.layers}

    def state(self) -> dict:
        """Everything recorded, as JSON-able data (``inspect.json``): the history, the
        warnings given (and their keys, so that a resumed inspection does not repeat
        them) and what each layer's activations are."""
        return {**self.history, "warnings": list(self.messages),
                "warned": sorted([list(k) if isinstance(k, tuple) else [k]
                                  for k in self._warned]),
                "activation": self.activation}

    def _resume(self, state) -> None:
        names = {layer.name for layer in self.layers}
        epochs = [int(e) for e in state.get("epoch", [])]
        if any(set(state.get(s, {})) != names for s in STATS):
            return  # another model's statistics: start afresh
        self.history["epoch"] = epochs
        n = len(epochs)
        self.history["loss"] = [_float(v) for v in state.get("loss", [])][:n]
        for s in STATS:
            for name in names:
                self.history[s][name] = [_float(v) for v in state[s][name]][:n]
        for name in names:  # the reference for vanishing/exploding: the first finite epoch
            finite = [v for v in self.history["grad_norm"][name] if math.isfinite(v)]
            if finite:
                self.first_grad[name] = finite[0]
        self.messages = list(state.get("warnings", []))
        self._warned = {tuple(k) if len(k) > 1 else k[0] for k in state.get("warned", [])}
        self._next_epoch = (epochs[-1] + 1) if epochs else 1

    def start_at(self, epoch: int) -> None:
        """Number the next epoch ``epoch`` (a resumed run), dropping anything recorded for
        it or later (a checkpoint older than the statistics)."""
        keep = sum(1 for e in self.history["epoch"] if e < epoch)
        self.history["epoch"] = self.history["epoch"][:keep]
        self.history["loss"] = self.history["loss"][:keep]
        for s in STATS:
            for name in self.history[s]:
                self.history[s][name] = self.history[s][name][:keep]
        self._next_epoch = epoch

    # ---------------------------------------------------------------- hooks

    def _layer_hook(self, layer):
        def hook(module, args, output):
            if module.training and not self._paused:
                self._pending.append((layer, output))

        return hook

    def _activation_hook(self, module):
        kind = type(module).__name__

        def hook(mod, args, output):
            if not mod.training or self._paused or not self._pending:
                return
            layer, _ = self._pending.pop()  # the layer that ran last feeds this activation
            layer.activation = kind
            self._record_activation(layer, output, kind in ("ReLU", "ReLU6"))

        return hook

    def _model_done(self, module, args, output):
        if not self._paused:
            self._flush(output)

    def _flush(self, output):
        """Record the layers' outputs that no activation module took: through the
        activation op that reads them in the graph behind ``output`` (None: only what is
        known from earlier forwards)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        unknown = [(layer, out) for layer, out in pending if layer.name not in self._functional]
        if unknown and output is not None:  # once per layer: which op reads its output
            consumers = _op_consumers(output)
            for layer, out in unknown:
                node = out._node if isinstance(out, Tensor) else None
                ops = consumers.get(id(node), []) if node is not None else []
                self._functional[layer.name] = next((op for op in ops if op in _FUNCTIONAL),
                                                    None)
        for layer, out in pending:
            op = self._functional.get(layer.name)
            if op is None:
                if layer.activation is None:
                    layer.activation = "own outputs"
                self._record_activation(layer, out, False)
            else:
                layer.activation = f"{op} (in forward)"
                self._record_activation(layer, _FUNCTIONAL[op](_np64(out)), op == "relu")

    def _record_activation(self, layer, out, relu):
        a = _np64(out)
        layer.act_sum += float(a.sum())
        layer.act_sq += float((a * a).sum())
        layer.act_n += a.size
        if relu:
            layer.relu = True
            alive = (a.reshape(-1, a.shape[-1]) > 0).any(axis=0) if a.ndim else a > 0
            layer.alive = alive if layer.alive is None else (layer.alive | alive)

    # ---------------------------------------------------------------- per step

    def step(self, loss, rerun=None) -> bool:
        """Call after ``loss.backward()`` and before ``optimizer.step()``.  Records the
        gradient norms and the previous step's update; checks the loss and the gradients
        for NaN/Inf, and on the first one runs ``rerun()`` (a function that computes the
        same loss again, from the same batch) in anomaly mode to name the op that produced
        it.  Returns False when the loss or a gradient is not finite."""
        self._flush(None)  # a submodule called without the model: its forward hook never ran
        value = float(loss.item()) if hasattr(loss, "item") else float(loss)
        self._epoch_loss.append(value)
        finite = math.isfinite(value)
        for layer in self.layers:
            self._finish_update(layer)
            sq, seen = 0.0, False
            for p in layer.params:
                if p.grad is not None:
                    g = _np64(p.grad)
                    sq += float((g * g).sum())
                    seen = True
            if not seen:  # a frozen layer: no gradient to measure
                layer.before = [_np64(p).copy() for p in layer.params]
                continue
            norm = math.sqrt(sq) if sq == sq else float("nan")
            if not math.isfinite(norm):
                finite = False
            layer.grad_norms.append(norm)
            layer.before = [_np64(p).copy() for p in layer.params]
        if not finite and self.nan_report is None:
            self._diagnose(value, rerun)
        return finite

    def _finish_update(self, layer):
        if layer.before is None:
            return
        num = den = 0.0
        for p, b in zip(layer.params, layer.before):
            w = _np64(p)
            num += float(((w - b) ** 2).sum())
            den += float((b * b).sum())
        layer.before = None
        if den > 0 and math.isfinite(num):
            layer.ratios.append(math.sqrt(num) / math.sqrt(den))

    def _diagnose(self, value, rerun):
        what = "the loss is NaN" if value != value else (
            f"the loss is {value}" if not math.isfinite(value) else "a gradient is NaN or Inf")
        where = "(pass rerun= to name the op that produced it)"
        if rerun is not None:
            where = self._first_bad_op(rerun)
        self.nan_report = f"{what}; {where}"
        self._warn("nan", f"{what} at epoch {self._next_epoch}, step "
                          f"{len(self._epoch_loss)}; {where}")

    def _first_bad_op(self, rerun) -> str:
        params = [p for layer in self.layers for p in layer.params if p.requires_grad]
        layer_of = {id(layer.module): layer for layer in self.layers}
        stack = []  # the modules whose forward is running: the innermost one last
        handles = []
        for name, m in self.model.named_modules():
            def enter(mod, args, name=name):
                stack.append((name, mod))

            def leave(mod, args, out):
                if stack and stack[-1][1] is mod:
                    stack.pop()

            handles.append(m.register_forward_pre_hook(enter))
            handles.append(m.register_forward_hook(leave))
        self._paused = True  # the rerun is not a training step: record nothing
        forward_done = False
        try:
            with detect_anomaly(), _np.errstate(all="ignore"):
                loss = rerun()
                forward_done = True
                # autograd.grad, not backward: the parameters' .grad stay as they are
                autograd_grad(loss, params, allow_unused=True)
        except OpError as exc:
            msg = str(exc)
            if msg.startswith("anomaly: "):
                msg = msg[len("anomaly: "):]
            if ", at <" in msg:  # no source line of the user's (an op called from the CLI)
                msg = msg[:msg.index(", at <")]
            where = ""
            if not forward_done and stack:
                name, mod = stack[-1]
                layer = layer_of.get(id(mod))
                where = (f"; it ran in {layer.title}" if layer is not None else
                         f"; it ran in module {name or type(mod).__name__} "
                         f"({type(mod).__name__})")
            elif not forward_done:
                where = "; it ran after the model's forward (in the loss function)"
            return "anomaly mode names the first op: " + msg + where
        except Exception as exc:  # the rerun itself failed: report, don't crash training
            return f"running the step again in anomaly mode failed ({type(exc).__name__}: {exc})"
        finally:
            self._paused = False
            self._pending = []
            for h in handles:
                h.remove()
        return ("in anomaly mode the step ran without producing NaN or Inf (it came from an "
                "earlier update of the weights)")

    # ---------------------------------------------------------------- per epoch

    def end_epoch(self, loss: float | None = None) -> None:
        """Close the epoch: turn the sums into this epoch's statistics and give warnings.
        ``loss``: the epoch's training loss (default: the mean of the steps' losses)."""
        for layer in self.layers:
            self._finish_update(layer)
        self._pending = []
        epoch = self._next_epoch
        self._next_epoch += 1
        self.history["epoch"].append(epoch)
        if loss is None:
            loss = float(_np.mean(self._epoch_loss)) if self._epoch_loss else float("nan")
        self.history["loss"].append(float(loss))
        self._epoch_loss = []
        for layer in self.layers:
            n = layer.act_n
            mean = layer.act_sum / n if n else float("nan")
            var = max(layer.act_sq / n - mean * mean, 0.0) if n else float("nan")
            dead = float(1.0 - layer.alive.mean()) if layer.relu and layer.alive is not None \
                else float("nan")
            grad = float(_np.mean(layer.grad_norms)) if layer.grad_norms else float("nan")
            ratio = float(_np.mean(layer.ratios)) if layer.ratios else float("nan")
            h = self.history
            h["act_mean"][layer.name].append(mean)
            h["act_std"][layer.name].append(math.sqrt(var) if var == var else var)
            h["dead_frac"][layer.name].append(dead)
            h["grad_norm"][layer.name].append(grad)
            h["update_ratio"][layer.name].append(ratio)
            self._check(layer, epoch, grad, dead)
            layer.reset()
        hidden = [layer for layer in self.layers[:-1] if layer.activation == "own outputs"]
        if hidden:
            self._warn("no-activation", "no activation found after " + ", ".join(
                layer.title for layer in hidden) + ": their activation statistics are their "
                "own outputs (the inspector sees activation modules such as nn.ReLU and "
                "relu/tanh/sigmoid applied to a layer's output in forward)")

    def _check(self, layer, epoch, grad, dead):
        name, title = layer.name, layer.title
        if grad == grad and math.isfinite(grad):
            first = self.first_grad.setdefault(name, grad)
            if first > 0 and epoch > self.history["epoch"][0]:
                rel = grad / first
                if rel < VANISH:
                    self._warn(("vanish", name),
                               f"vanishing gradients in {title}: gradient norm {grad:.3g} at "
                               f"epoch {epoch} is {rel:.2g} times its first epoch's "
                               f"({first:.3g}), below {VANISH:g}")
                elif rel > EXPLODE:
                    self._warn(("explode", name),
                               f"exploding gradients in {title}: gradient norm {grad:.3g} at "
                               f"epoch {epoch} is {rel:.3g} times its first epoch's "
                               f"({first:.3g}), above {EXPLODE:g}")
            elif first == 0 and epoch == self.history["epoch"][0]:
                self._warn(("vanish", name), f"vanishing gradients in {title}: its gradient "
                           "is exactly zero in the first epoch")
        if dead == dead and dead > DEAD:
            self._warn(("dead", name), f"dead ReLUs in {title}: {dead:.0%} of its units were "
                       f"never active during epoch {epoch} (more than {DEAD:.0%}); lower the "
                       "learning rate or change the initialization")

    def _warn(self, key, message):
        if key in self._warned:
            return
        self._warned.add(key)
        self.messages.append(message)
        if self.on_warning is not None:
            self.on_warning(message)
        else:
            warnings.warn(message, InspectorWarning, stacklevel=3)

    # ---------------------------------------------------------------- output

    def plot(self, path, title: str | None = None) -> None:
        """Write the statistics picture (PNG) to ``path`` (a file name or a binary file):
        one panel per statistic (and the loss), one line per layer, epochs along x."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        fig = Figure(figsize=(13, 7.5), dpi=100)
        FigureCanvasAgg(fig)
        axes = fig.subplots(2, 3)
        epochs = self.history["epoch"]
        panels = list(STATS) + ["loss"]
        for ax, stat in zip(axes.reshape(-1), panels):
            ax.set_title(TITLES[stat], fontsize=11)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            if stat == "loss":
                ax.plot(epochs, self.history["loss"], marker="o", ms=3, color="black")
                continue
            drawn = False
            for layer in self.layers:
                ys = _np.array(self.history[stat][layer.name], dtype=float)
                if _np.isfinite(ys).any():
                    ax.plot(epochs, ys, marker="o", ms=3, label=layer.label)
                    drawn = True
            if stat in ("grad_norm", "update_ratio") and drawn:
                vals = _np.array([v for layer in self.layers
                                  for v in self.history[stat][layer.name]], dtype=float)
                if (vals[_np.isfinite(vals)] > 0).any():
                    ax.set_yscale("log")
            if stat == "dead_frac":
                ax.set_ylim(-0.03, 1.03)
                ax.axhline(DEAD, color="#c0392b", lw=0.8, ls="--")
            if drawn:
                ax.legend(fontsize=8, title="layer", title_fontsize=8)
            else:
                ax.text(0.5, 0.5, "no data" if stat != "dead_frac" else "no ReLU layers",
                        ha="center", va="center", transform=ax.transAxes, color="gray")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, format="png")

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
