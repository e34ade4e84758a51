"""The Optimizer base class: parameter groups, per-parameter state, ``zero_grad`` and a
``state_dict`` in torch.optim's format.

Subclasses validate their hyperparameters, fill ``defaults`` and implement ``step``; the
update itself is a lean loop of in-place array arithmetic on ``p.data`` (see ``sgd.py``).
"""

from __future__ import annotations

import copy
import functools
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from .. import backend
from ..autograd.grad_mode import enable_grad, state
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyperparameter that every param group must set (torch's ``required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def step_dtype():
    """dtype of the ``state['step']`` counters: float32, or float64 under a float64 default
    (torch's ``_get_scalar_dtype``).  float32 counts exactly up to 2**24 steps."""
    default = backend.get_default_dtype()
    return default.np if default is backend.float64 else backend.float32.np


def new_step(like) -> Tensor:
    """A 0-d step counter at zero on ``like``'s device (torch keeps ``step`` as a tensor)."""
    return Tensor._wrap(backend.get_array_module(like).zeros((), dtype=step_dtype()))


def as_1d(array):
    """A 0-d array as a 1-element view (other arrays unchanged).  NumPy arithmetic on 0-d
    arrays returns scalars, not arrays, and the in-place updates need arrays."""
    return array.reshape(1) if array.ndim == 0 else array


def zeros_state(p: Tensor) -> Tensor:
    """Zero-filled state with ``p``'s shape, dtype and device."""
    return Tensor._wrap(backend.get_array_module(p.data).zeros_like(p.data))


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts (parameter
            groups, each with a ``'params'`` entry and options that override ``defaults``).
        defaults: the default value of every option of a parameter group.

    Attributes:
        param_groups: list of dicts; each holds ``'params'`` (a list of Tensors) and every
            option of ``defaults`` (filled in where the group did not set it).
        state: ``{parameter: {name: value}}``, the per-parameter buffers (created lazily by
            ``step`` unless the optimizer says otherwise).  Buffers are chainrule Tensors;
            ``state[p]['step']`` is a 0-d float32 Tensor, as in torch.
    """

    def __init__(self, params, defaults: dict[str, Any]):
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []

        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        if isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # step() of every subclass marks the optimizer as stepped, so that an lr scheduler can
    # warn when its own step() comes first (torch patches each instance for the same check)
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is None or getattr(step, "_marks_called", False):
            return

        @functools.wraps(step)
        def marked_step(self, *args, **kw):
            if state.recorder is not None:  # chainrule.compile records the call
                return state.recorder.call(marked_step, self, args, kw)
            self._opt_called = True
            return step(self, *args, **kw)

        marked_step._marks_called = True
        cls.step = marked_step

    # ------------------------------------------------------------ groups

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (e.g. unfreezing a layer while
        training).  Options the group leaves out take the optimizer's defaults.

        Raises ``ValueError`` if a parameter is already in another group, a required option
        is missing or an option is invalid; nothing is changed in that case.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError("param_group must have a 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)

        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            group["param_names"] = names
        group["params"] = params

        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(p))
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
            if not p.is_floating_point():
                raise TypeError(f"optimizer can only optimize floating point Tensors, but one "
                                f"of the params has dtype {p.dtype}")

        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        self._check_group(group)

        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        for other in self.param_groups:
            if ("param_names" in other) != ("param_names" in group):
                kind = "with names" if "param_names" in group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {kind} to the optimizer")
        seen = {id(p) for other in self.param_groups for p in other["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")

        self.param_groups.append(group)
        self._init_group_state(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's options (subclasses raise ``ValueError`` as torch does)."""

    def _init_group_state(self, group: dict[str, Any]) -> None:
        """Create state for a new group's parameters (for optimizers whose state exists
        before the first step, such as Adagrad)."""

    # ------------------------------------------------------------ stepping

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters: to ``None`` (default; cheaper, and
        a parameter that then gets no gradient is skipped by ``step``) or to zeros."""
        if state.recorder is not None:  # chainrule.compile records the call
            return state.recorder.call(Optimizer.zero_grad, self, (),
                                       {"set_to_none": set_to_none})
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad  # (the attribute behind .grad; None needs no checks)
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                    continue
                if g._node is not None:
                    g.detach_()
                else:
                    g.requires_grad = False
                g.data.fill(0)
                g._version[0] += 1

    def step(self, closure: Callable[[], Any] | None = None):
        """Perform one update of every parameter that has a gradient.

        ``closure`` (optional) re-evaluates the model and returns the loss; it runs with
        grad mode on, before the update, and its result is returned.
        """
        raise NotImplementedError

    @staticmethod
    def _eval_closure(closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------ state dict

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as torch formats it::

            {'state': {0: {'momentum_buffer': Tensor}, 1: {...}},
             'param_groups': [{'lr': 0.1, ..., 'params': [0, 1]}]}

        Parameters are replaced by integer ids, numbered in order through the groups.  The
        state Tensors are the live buffers, not copies (as in torch): save or copy them
        before stepping again if a snapshot is needed.  The dicts are new, so editing the
        returned structure does not change the optimizer.
        """
        ids: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                ids.setdefault(id(p), len(ids))
            packed["params"] = [ids[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(ids[id(k)] if isinstance(k, Tensor) else k): dict(v)
                 for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load state saved by ``state_dict`` (of an optimizer built the same way).

        Checks the number of groups, the number of parameters in each group and the shape
        of every state buffer against its parameter, and raises ``ValueError`` before
        changing anything.  Buffers are copied, cast to their parameter's dtype and moved
        to its device (``step`` keeps its own dtype); NumPy arrays and other array-likes
        are accepted in place of Tensors.
        """
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict \
                or "state" not in state_dict:
            raise ValueError("optimizer state dict must be a dict with 'state' and "
                             "'param_groups' entries")
        saved_groups = copy.deepcopy(list(state_dict["param_groups"]))
        groups = self.param_groups
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)}) than the optimizer ({len(groups)})")
        id_map: dict[Any, Tensor] = {}
        for i, (group, saved) in enumerate(zip(groups, saved_groups)):
            n, n_saved = len(group["params"]), len(saved.get("params", ()))
            if n != n_saved:
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 f"match the size of optimizer's group (group {i}: {n_saved} "
                                 f"saved parameters, {n} in the optimizer)")
            for pid, p in zip(saved["params"], group["params"]):
                if pid in id_map:
                    raise ValueError(f"loaded state dict lists parameter id {pid} twice")
                id_map[pid] = p

        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for pid, entry in state_dict["state"].items():
            p = id_map.get(pid)
            if p is None:
                raise ValueError(f"loaded state dict has state for parameter id {pid!r}, which "
                                 "is in none of its param_groups")
            state[p] = {key: _load_value(p, pid, key, value) for key, value in entry.items()}

        new_groups = []
        for group, saved in zip(groups, saved_groups):
            for name, default in self.defaults.items():
                saved.setdefault(name, default)
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.state = state
        self.param_groups = new_groups

    # ------------------------------------------------------------ printing

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        return "\n".join(lines) + "\n)"


def _load_value(p: Tensor, pid, key, value):
    """A copy of one saved state value, as a Tensor on ``p``'s device; float buffers take
    ``p``'s dtype, ``step`` keeps its own.  Raises ValueError on a shape mismatch."""
    if value is None or isinstance(value, (bool, int, float, str)):
        if key == "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
            # accept a plain number for step (older checkpoints, JSON metadata)
            xp = backend.get_array_module(p.data)
            return Tensor._wrap(xp.asarray(value, dtype=step_dtype()))
        return value
    if isinstance(value, Tensor):
        arr = value.data
    elif backend.is_array(value):
        arr = value  # (a CuPy array, too: moved below)
    elif hasattr(value, "__array__"):
        arr = backend.np.asarray(value)
    else:
        return copy.deepcopy(value)
    # step counters are scalars; every other buffer of these optimizers is parameter-shaped
    if key != "step" and tuple(arr.shape) != tuple(p.data.shape):
        raise ValueError(f"loaded state dict: state '{key}' of parameter {pid} has shape "
                         f"{tuple(arr.shape)}, but the parameter has shape "
                         f"{tuple(p.data.shape)}")
    arr = backend.to_device(arr, p.device)
    xp = backend.get_array_module(p.data)
    dtype = arr.dtype if key == "step" or arr.dtype.kind != "f" else p.data.dtype
    return Tensor._wrap(xp.array(arr, dtype=dtype, copy=True))


def _typename(obj) -> str:
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__name__}"


def check(ok: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``ok`` (hyperparameter validation)."""
    if not ok:
        raise ValueError(message)


# torch's implementation switches.  ``foreach``, ``fused`` and ``capturable`` choose torch's
# kernels (multi-tensor, fused, CUDA-graph safe) without changing the result, so torch code
# that passes them runs unchanged; they are kept in the param groups, as torch keeps them.
# ``differentiable=True`` (autograd through ``step``) would change what the step computes,
# so it is refused rather than silently ignored.
IMPLEMENTATION_FLAGS = ("foreach", "capturable", "differentiable", "fused")


def check_flags(group: dict[str, Any]) -> None:
    """Validate torch's implementation switches of a param group (see above)."""
    if group.get("differentiable"):
        raise NotImplementedError("differentiable=True (autograd through the optimizer step) "
                                  "is not supported by chainrule's optimizers; use "
                                  "differentiable=False, or write the update with chainrule "
                                  "ops for a differentiable step")
    if group.get("fused") and group.get("foreach"):
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

