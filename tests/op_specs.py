"""The op-spec table: one row per differentiable op, read like a handbook.

Each row (``OpSpec``) names the op, gives one callable ``fn(lib, *args)`` written once for
both libraries (``lib`` is ``chainrule`` or ``torch``; ``torch_fn`` overrides it where torch
spells the op differently), the argument cases, the input domain and the flags.
``tests/test_ops.py`` turns every row into tests: float64 ``gradcheck`` and ``gradgradcheck``
for every case, empty-tensor shapes, and, where torch is importable, forward values, output
dtypes and gradients (from a random upstream gradient) against torch in float32 and float64.

Arguments of a case:

* ``R(shape)`` real numbers in [-2, 2]; ``P`` positive in [0.5, 2]; ``NZ`` away from zero
  (|x| in [0.5, 2], random sign); ``D`` pairwise distinct values (no ties: spacing 0.25);
  ``DA`` distinct non-zero absolute values; ``U(shape, lo, hi)`` uniform in [lo, hi];
  ``Fixed(values)`` exact values (zeros, ties).  All of these are float inputs that require
  grad.
* A NumPy integer or bool array is a constant tensor (indices, masks), never differentiated.

``valid(*arrays)`` (on the float64 values) rejects a draw that sits too close to a kink
(``relu`` at 0, ``floor`` at integers, ``maximum`` at ties); inputs are re-drawn until it
holds.  Shapes exercise broadcasting: scalars ``()``, size-1 axes and leading batch axes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import chainrule

# ----------------------------------------------------------------------- arguments


@dataclass(frozen=True)
class Float:
    """A float input that requires grad: ``shape`` drawn from ``domain``."""

    shape: tuple
    domain: str = "real"
    lo: float = -2.0
    hi: float = 2.0
    values: Any = None  # exact values (overrides the domain)

    def draw(self, rng):
        if self.values is not None:
            return np.array(self.values, dtype=np.float64)
        n = int(np.prod(self.shape, dtype=np.int64))
        if self.domain == "uniform":
            a = rng.uniform(self.lo, self.hi, n)
        elif self.domain == "nonzero":
            a = rng.uniform(0.5, 2.0, n) * rng.choice([-1.0, 1.0], n)
        elif self.domain == "distinct":
            a = (rng.permutation(n) - n / 2) * 0.25 + rng.uniform(-0.05, 0.05, n)
        elif self.domain == "distinct_abs":
            a = (rng.permutation(n) + 1) * 0.25 + rng.uniform(-0.05, 0.05, n)
            a = a * rng.choice([-1.0, 1.0], n)
        else:
            raise ValueError(self.domain)
        return a.reshape(self.shape)


def R(*shape):
    return Float(_shape(shape), "uniform", -2.0, 2.0)


def P(*shape):
    return Float(_shape(shape), "uniform", 0.5, 2.0)


def NZ(*shape):
    return Float(_shape(shape), "nonzero")


def D(*shape):
    return Float(_shape(shape), "distinct")


def DA(*shape):
    return Float(_shape(shape), "distinct_abs")


def U(shape, lo, hi):
    return Float(tuple(shape), "uniform", lo, hi)


def Fixed(values):
    return Float(np.shape(values), values=values)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple) else tuple(shape)


def idx(values):
    return np.array(values, dtype=np.int64)


def mask(values):
    return np.array(values, dtype=bool)


# ----------------------------------------------------------------------- the row


@dataclass
class OpSpec:
    name: str
    fn: Callable  # fn(lib, *tensors) with lib = chainrule or torch
    cases: list  # argument tuples (see the module docstring)
    torch_fn: Callable | None = None  # torch's spelling, when it differs
    valid: Callable | None = None  # valid(*float64 values) -> bool: keeps away from kinks
    second_order: bool = True  # False where the second derivative is undefined
    compare_torch: bool = True
    rtol32: float = 2e-5  # float32 tolerance against torch
    empty: list = field(default_factory=list)  # cases with zero-size tensors
    note: str = ""

    def run(self, *args):
        return self.fn(chainrule, *args)

    def run_torch(self, torch, *args):
        return (self.torch_fn or self.fn)(torch, *args)


def draw_case(spec, case, rng):
    """float64 NumPy values for a case, re-drawn until ``spec.valid`` holds."""
    for _ in range(200):
        values = [a.draw(rng) if isinstance(a, Float) else a for a in case]
        if spec.valid is None or spec.valid(*values):
            return values
    raise AssertionError(f"{spec.name}: no valid draw for {case}")


# ----------------------------------------------------------------------- kinks


def away(a, points, margin=0.05):
    """Every element of ``a`` is at least ``margin`` from each of ``points``."""
    return all(np.all(np.abs(np.asarray(a) - p) > margin) for p in points)


def apart(x, y, margin=0.05):
    """No ties between ``x`` and ``y`` (broadcast)."""
    return bool(np.all(np.abs(np.asarray(x) - np.asarray(y)) > margin))


def off_integers(a, offset=0.0, margin=0.05):
    """``a`` stays ``margin`` away from every ``k + offset`` (floor/ceil/round kinks)."""
    f = np.asarray(a) - offset
    return bool(np.all(np.abs(f - np.round(f)) > margin))


# ----------------------------------------------------------------------- shapes

UNARY_SHAPES = [(), (3,), (2, 1, 3), (1, 4)]
BINARY_SHAPES = [((2, 3), (2, 3)), ((), (3,)), ((3,), ()), ((), ()), ((2, 1), (1, 3)),
                 ((2, 1, 3), (3,)), ((1, 3), (2, 2, 1))]
EMPTY_UNARY = [(0,), (2, 0)]
EMPTY_BINARY = [((0,), (0,)), ((0, 1), (1, 3)), ((2, 0), ())]
RED_SHAPES = [(2, 3, 2), (1, 4, 1)]  # every dim variant runs on both
# (dim, keepdim): full, int, negative, tuple with negative, tuple + keepdim
RED_DIMS = [(None, False), (0, False), (-1, True), ((0, -1), False), ((0, 2), True)]

SPECS: list[OpSpec] = []


def row(name, fn, cases, **flags):
    SPECS.append(OpSpec(name, fn, list(cases), **flags))


def unary(name, fn, domain=R, shapes=UNARY_SHAPES, **flags):
    flags.setdefault("empty", [(R(*s),) for s in EMPTY_UNARY])
    row(name, fn, [(domain(*s),) for s in shapes], **flags)


def binary(name, fn, dx=R, dy=R, shapes=BINARY_SHAPES, **flags):
    flags.setdefault("empty", [(R(*a), R(*b)) for a, b in EMPTY_BINARY])
    row(name, fn, [(dx(*a), dy(*b)) for a, b in shapes], **flags)


def _dimkw(dim, keepdim):
    kw = {} if dim is None else {"dim": dim}
    if keepdim:
        kw["keepdim"] = True
    return kw


# ======================================================================= arithmetic

binary("add", lambda m, x, y: x + y)
binary("add(alpha)", lambda m, x, y: m.add(x, y, alpha=2.5))
unary("scalar+x", lambda m, x: 1.5 + x)
binary("sub", lambda m, x, y: x - y)
binary("sub(alpha)", lambda m, x, y: m.sub(x, y, alpha=-0.5))
unary("scalar-x", lambda m, x: 1.5 - x)
unary("x-scalar", lambda m, x: x - 3)
binary("mul", lambda m, x, y: x * y)
unary("scalar*x", lambda m, x: 2.5 * x)
binary("div", lambda m, x, y: x / y, dy=NZ)
unary("scalar/x", lambda m, x: 2.0 / x, NZ)
unary("x/scalar", lambda m, x: x / 4)
binary("pow(tensor,tensor)", lambda m, x, y: x**y, dx=P)
binary("pow(fn)", lambda m, x, y: m.pow(x, y), dx=P, shapes=BINARY_SHAPES[:2])
unary("pow(x,2)", lambda m, x: x**2)
unary("pow(x,3)", lambda m, x: x**3)
unary("pow(x,1)", lambda m, x: x**1)
unary("pow(x,0)", lambda m, x: x**0)
unary("pow(x,-2)", lambda m, x: x**-2, NZ)
unary("pow(x,0.5)", lambda m, x: x**0.5, P)
unary("pow(x,-1.5)", lambda m, x: m.pow(x, -1.5), P)
unary("pow(scalar,x)", lambda m, x: 2.5**x)
unary("pow(scalar,x) (base<1)", lambda m, x: 0.5**x, shapes=[(2, 3)])
binary("remainder", lambda m, x, y: x % y, dy=NZ, valid=lambda x, y: off_integers(x / y, 0, 0.02))
unary("remainder(x,scalar)", lambda m, x: x % 1.5, valid=lambda x: off_integers(x / 1.5, 0, 0.02))
unary("remainder(x,-scalar)", lambda m, x: m.remainder(x, -0.75),
      valid=lambda x: off_integers(x / 0.75, 0, 0.02))
unary("remainder(scalar,x)", lambda m, x: 2.0 % x, NZ, valid=lambda x: off_integers(2 / x, 0, 0.02),
      # torch has no derivative for remainder(Scalar, Tensor): compare with a 0-d tensor
      torch_fn=lambda m, x: m.remainder(m.tensor(2.0, dtype=x.dtype), x))
unary("neg", lambda m, x: -x)
unary("neg(fn)", lambda m, x: m.neg(x), shapes=[(2, 3)])

# ======================================================================= unary math

unary("exp", lambda m, x: m.exp(x))
unary("log", lambda m, x: m.log(x), P, empty=[(P(0),)])
unary("log1p", lambda m, x: m.log1p(x), lambda *s: U(s, -0.5, 2.0))
unary("expm1", lambda m, x: m.expm1(x))
unary("sqrt", lambda m, x: m.sqrt(x), P)
unary("rsqrt", lambda m, x: m.rsqrt(x), P)
unary("abs", lambda m, x: m.abs(x), NZ)
unary("abs(method)", lambda m, x: abs(x), NZ, shapes=[(2, 3)])
unary("sign", lambda m, x: m.sign(x), NZ)
unary("sin", lambda m, x: m.sin(x))
unary("cos", lambda m, x: m.cos(x))
unary("tanh", lambda m, x: m.tanh(x))
unary("sigmoid", lambda m, x: m.sigmoid(x), lambda *s: U(s, -4.0, 4.0))
unary("relu", lambda m, x: m.relu(x), NZ)
unary("reciprocal", lambda m, x: m.reciprocal(x), NZ)
unary("square", lambda m, x: m.square(x))
unary("floor", lambda m, x: m.floor(x), valid=off_integers)
unary("ceil", lambda m, x: m.ceil(x), valid=off_integers)
unary("round", lambda m, x: m.round(x), valid=lambda x: off_integers(x, 0.5))
unary("round(decimals=1)", lambda m, x: m.round(x, decimals=1), shapes=[(2, 3)],
      valid=lambda x: off_integers(10 * x, 0.5, 0.1))

# clamp/clip: x stays away from the bounds (the kinks)
unary("clamp(min,max)", lambda m, x: m.clamp(x, -0.5, 1.0), valid=lambda x: away(x, (-0.5, 1.0)))
unary("clamp(min)", lambda m, x: m.clamp(x, min=0.25), valid=lambda x: away(x, (0.25,)))
unary("clamp(max)", lambda m, x: x.clamp(max=-0.25), valid=lambda x: away(x, (-0.25,)))
unary("clip", lambda m, x: m.clip(x, -1, 1), valid=lambda x: away(x, (-1, 1)))
unary("clamp(int bounds)", lambda m, x: x.clamp(0, 1), shapes=[(2, 3)],
      valid=lambda x: away(x, (0, 1)))
row("clamp(tensor min,max)", lambda m, x, lo, hi: m.clamp(x, lo, hi),
    [(R(2, 3), U((3,), -1.5, -0.5), U((2, 1), 0.5, 1.5)),
     (R(2, 3), U((), -1.5, -0.5), R(2, 3)), (R(()), U((), -1.5, -0.5), U((), 0.5, 1.5))],
    valid=lambda x, lo, hi: apart(x, lo) and apart(x, hi))
row("clamp(bounds broadcast x)", lambda m, x, lo, hi: m.clamp(x, lo, hi),
    [(R(()), U((2,), -1.5, -0.5), U((), 0.5, 1.5)),
     (R(3,), U((), -1.5, -0.5), U((2, 3), 0.5, 1.5))],
    valid=lambda x, lo, hi: apart(x, lo) and apart(x, hi), compare_torch=False,
    note="torch's clamp backward fails when the bounds broadcast x to a larger shape")
row("clamp(tensor min)", lambda m, x, lo: m.clamp(x, min=lo),
    [(R(2, 3), R(3,)), (R(2, 3), 0.5)], valid=apart)
row("clamp(scalar min, tensor max)", lambda m, x, hi: m.clamp(x, -0.5, hi),
    [(R(2, 3), R(3,))], valid=lambda x, hi: apart(x, hi) and away(x, (-0.5,)),
    torch_fn=lambda m, x, hi: m.clamp(x, m.tensor(-0.5, dtype=x.dtype), hi),
    note="torch does not mix a number and a tensor bound; chainrule does")
row("clamp(tensor max)", lambda m, x, hi: m.clip(x, max=hi), [(R(2, 3), R(2, 1))], valid=apart)
row("clamp(tensor min > max)", lambda m, x, lo, hi: m.clamp(x, lo, hi),
    [(R(2, 3), U((3,), 0.5, 1.5), U((2, 1), -1.5, -0.5))],
    valid=lambda x, lo, hi: apart(x, lo) and apart(x, hi), note="min > max gives max, as torch")

binary("maximum", lambda m, x, y: m.maximum(x, y), valid=apart)
binary("minimum", lambda m, x, y: m.minimum(x, y), valid=apart)
binary("max(x, y)", lambda m, x, y: m.max(x, y), valid=apart, shapes=BINARY_SHAPES[:2])
binary("min(x, y)", lambda m, x, y: m.min(x, y), valid=apart, shapes=BINARY_SHAPES[:2])
row("where", lambda m, c, x, y: m.where(c, x, y),
    [(mask([[True, False, True], [False, False, True]]), R(2, 3), R(2, 3)),
     (mask([True, False, True]), R(2, 1), R(())),
     (mask([[True], [False]]), R(3,), R(2, 3)),
     (mask(True), R(3,), R(3,))],
    empty=[(mask(np.zeros((0, 3), bool)), R(0, 3), R(3,))])
row("where(scalar)", lambda m, c, x: m.where(c, x, 0.5),
    [(mask([[True, False, True], [False, True, True]]), R(2, 3)), (mask([True, False]), R(()))])
row("Tensor.where", lambda m, c, x, y: x.where(c, y),
    [(mask([True, False, True]), R(2, 3), R(3,))])

# ======================================================================= reductions


def reduction(name, fn, shapes=RED_SHAPES, dims=RED_DIMS, domain=R, scalar=True, empty=(),
              **flags):
    """Rows for ``fn(m, x, **dimkw)`` over the standard dim/keepdim variants (``empty``
    cases go with the full reduction)."""
    for dim, keepdim in dims:
        label = f"dim={dim}" if dim is not None else ""
        label += ",keepdim" if keepdim else ""
        cases = [(domain(*shape),) for shape in shapes]
        if dim is None and scalar:
            cases += [(domain(()),), (domain(4),)]
        kw = _dimkw(dim, keepdim)
        row(f"{name}({label})", lambda m, x, kw=kw: fn(m, x, **kw), cases,
            empty=list(empty) if dim is None else [], **flags)


reduction("sum", lambda m, x, **kw: m.sum(x, **kw), empty=[(R(0, 3),)])
row("sum(dim=1) on empty", lambda m, x: x.sum(1), [], empty=[(R(0, 3),), (R(2, 0),)])
row("sum(scalar, dim=0)", lambda m, x: m.sum(x, 0), [(R(()),)])
row("sum(dim=()) is a full reduction", lambda m, x: m.sum(x, dim=()), [(R(2, 3),)])
row("mean(dim=[]) is a full reduction", lambda m, x: x.mean([]), [(R(2, 3),)])
row("var(dim=()) is a full reduction", lambda m, x: m.var(x, ()), [(R(2, 3),)],
    torch_fn=lambda m, x: m.var(x), note="torch's own backward of var(dim=()) is inf (N = 1)")
row("norm(dim=()) is a full reduction", lambda m, x: m.norm(x, dim=()), [(NZ(2, 3),)])
reduction("mean", lambda m, x, **kw: m.mean(x, **kw), empty=[(R(0, 3),)])
row("mean(dim=0) on empty", lambda m, x: x.mean(0), [], empty=[(R(2, 0),), (R(0, 3),)])
reduction("prod", lambda m, x, **kw: m.prod(x, **kw), empty=[(R(0, 3),)],
          dims=[(None, False), (1, False), (-1, True)], domain=NZ)
row("prod (one zero)", lambda m, x: m.prod(x),
    [(Fixed([0.5, 0.0, -1.5, 2.0]),)])
row("prod (two zeros)", lambda m, x: m.prod(x), [(Fixed([0.0, 1.5, 0.0, -2.0]),)])
row("prod (three zeros)", lambda m, x: m.prod(x), [(Fixed([0.0, 0.0, 0.5, 0.0]),)])
row("prod(dim) (zeros)", lambda m, x: m.prod(x, 1),
    [(Fixed([[0.5, 0.0, -1.5], [0.0, 0.0, 2.0], [1.5, -0.5, 2.0], [0.0, 0.0, 0.0]]),)])
row("prod(dim=0) (zeros)", lambda m, x: m.prod(x, 0, keepdim=True),
    [(Fixed([[0.5, 0.0, -1.5], [0.0, 0.0, 2.0], [1.5, -0.5, 2.0]]),)])
row("prod(dim) on empty", lambda m, x: x.prod(0), [], empty=[(R(0, 3),)])
reduction("amax", lambda m, x, **kw: m.amax(x, **kw), domain=D)
reduction("amin", lambda m, x, **kw: m.amin(x, **kw), domain=D, dims=RED_DIMS[:3])
row("amax(dim=1) on empty", lambda m, x: m.amax(x, 1), [], empty=[(R(0, 3),)])
row("max()", lambda m, x: m.max(x), [(D(2, 3),), (D(()),)])
row("min()", lambda m, x: x.min(), [(D(2, 3),)])
row("max(dim)", lambda m, x: m.max(x, 1), [(D(2, 3, 2),), (D(4, 3),)])
row("max(dim=-1)", lambda m, x: m.max(x, -1), [(D(4,),), (D(()),)])
row("max(dim=-1, keepdim)", lambda m, x: x.max(-1, keepdim=True), [(D(2, 3),)])
row("max(dim).values", lambda m, x: m.max(x, dim=0).values, [(D(3, 2),)])
row("min(dim)", lambda m, x: m.min(x, 0), [(D(3, 2),), (D(4,),)])
row("min(dim=-2, keepdim)", lambda m, x: m.min(x, -2, True), [(D(2, 3, 2),)])
row("max(dim) on empty", lambda m, x: m.max(x, 1), [], empty=[(R(0, 3),)])
VAR_SHAPES = [(2, 3, 2), (3, 2, 2)]  # no size-1 reduced axis: var of one element is NaN
reduction("var", lambda m, x, **kw: m.var(x, **kw), dims=RED_DIMS[:4], scalar=False,
          shapes=VAR_SHAPES, empty=[(R(0, 3),)])
reduction("var(correction=0)", lambda m, x, **kw: m.var(x, correction=0, **kw), shapes=VAR_SHAPES,
          dims=[(None, False), (1, True)], scalar=False)
reduction("var(unbiased=False)", lambda m, x, **kw: m.var(x, unbiased=False, **kw),
          shapes=VAR_SHAPES,
          dims=[((0, 2), False)])
reduction("std", lambda m, x, **kw: m.std(x, **kw), dims=RED_DIMS[:4], scalar=False,
          shapes=VAR_SHAPES, empty=[(R(0, 3),)])
reduction("std(correction=0)", lambda m, x, **kw: x.std(correction=0, **kw), shapes=VAR_SHAPES,
          dims=[(None, False), (-2, True)], scalar=False)
row("var/std(scalar,correction=0)", lambda m, x: m.var(x, correction=0) + m.std(x, correction=0),
    [(R(()),), (R(1,),)], second_order=False, note="std == 0: torch's gradient is 0")
row("std(constant rows)", lambda m, x: m.std(x, dim=1),
    [(Fixed([[1.5, 1.5, 1.5], [0.5, 1.0, 2.0]]),)],
    second_order=False, note="std == 0 in row 0: gradient 0 there, as torch")
reduction("logsumexp", lambda m, x, **kw: m.logsumexp(x, **kw),
          dims=[(0, False), (-1, True), ((0, -1), False), ((0, 1, 2), False)])
row("logsumexp(scalar)", lambda m, x: m.logsumexp(x, 0), [(R(()),)])
row("logsumexp(dim) on empty", lambda m, x: m.logsumexp(x, 0), [], empty=[(R(0, 3),)])
reduction("norm", lambda m, x, **kw: m.norm(x, **kw), dims=RED_DIMS[:4], domain=NZ)
reduction("norm(p=1)", lambda m, x, **kw: m.norm(x, p=1, **kw), dims=RED_DIMS[:3], domain=NZ)
reduction("norm(p=inf)", lambda m, x, **kw: m.norm(x, p=float("inf"), **kw),
          dims=RED_DIMS[:3], domain=DA)
reduction("norm(p=3)", lambda m, x, **kw: m.norm(x, p=3, **kw), dims=RED_DIMS[:4], domain=NZ)
reduction("norm(p=fro)", lambda m, x, **kw: x.norm(p="fro", **kw), dims=[(None, False)], domain=NZ)
row("norm(p=0)", lambda m, x: m.norm(x, p=0), [(NZ(2, 3),)], note="a count: zero gradient")
row("norm(zero vector)", lambda m, x: m.norm(x), [(Fixed([0.0, 0.0, 0.0]),)],
    second_order=False, note="torch's subgradient 0 at the origin")
row("norm(p=1, zero vector)", lambda m, x: m.norm(x, p=1), [(Fixed([0.0, 0.0]),)],
    second_order=False)
row("norm(p=3, zero vector)", lambda m, x: m.norm(x, p=3), [(Fixed([0.0, 0.0, 0.0]),)],
    second_order=False)
row("norm(p=3, dim, one zero row)", lambda m, x: m.norm(x, p=3, dim=1),
    [(Fixed([[0.0, 0.0], [0.5, -1.5]]),)], second_order=False)
row("norm(dim, zero row)", lambda m, x: m.norm(x, dim=1),
    [(Fixed([[0.0, 0.0], [0.5, -1.5]]),)], second_order=False)
row("norm on empty", lambda m, x: m.norm(x), [], empty=[(R(0, 3),)])
row("cumsum", lambda m, x: m.cumsum(x, 0), [(R(4,),), (R(3, 2),)], empty=[(R(0, 3),)])
row("cumsum(dim=-1)", lambda m, x: x.cumsum(-1), [(R(2, 3, 2),), (R(()),)],
    empty=[(R(2, 0),)])

# ======================================================================= shape

row("reshape", lambda m, x: m.reshape(x, (3, 4)), [(R(2, 3, 2),)])
row("reshape(empty)", lambda m, x: x.reshape(3, 0, 2), [], empty=[(R(0, 3),), (R(2, 0, 3),)])
row("reshape(-1)", lambda m, x: x.reshape(-1), [(R(2, 3),), (R(()),)])
row("reshape(2,-1)", lambda m, x: x.reshape(2, -1), [(R(2, 3, 2),)])
row("reshape(scalar)", lambda m, x: x.reshape(1, 1), [(R(()),)])
row("view", lambda m, x: x.view(6, 2), [(R(2, 3, 2),)])
row("view(empty)", lambda m, x: x.view(0, 4), [], empty=[(R(2, 0, 2),)])
row("view(-1,3)", lambda m, x: x.view(-1, 3), [(R(2, 3),)])
row("flatten", lambda m, x: m.flatten(x), [(R(2, 3, 2),), (R(()),)])
row("flatten(1)", lambda m, x: x.flatten(1), [(R(2, 3, 2),)], empty=[(R(0, 2, 3),)])
row("flatten(0,1)", lambda m, x: m.flatten(x, 0, 1), [(R(2, 3, 2),)])
row("unflatten", lambda m, x: m.unflatten(x, 1, (3, 2)), [(R(2, 6),)])
row("unflatten(-1,-1)", lambda m, x: x.unflatten(-1, (-1, 2)), [(R(2, 4),)])
row("squeeze", lambda m, x: m.squeeze(x), [(R(2, 1, 3, 1),), (R(1,),)])
row("squeeze(1)", lambda m, x: x.squeeze(1), [(R(2, 1, 3),)])
row("squeeze(non-1 dim)", lambda m, x: x.squeeze(-1), [(R(2, 3),)])
row("squeeze(tuple)", lambda m, x: m.squeeze(x, (0, -1)), [(R(1, 3, 1),)])
row("unsqueeze", lambda m, x: m.unsqueeze(x, 0), [(R(2, 3),), (R(()),)])
row("unsqueeze(-1)", lambda m, x: x.unsqueeze(-1), [(R(2, 3),)], empty=[(R(0,),)])
row("unsqueeze(1)", lambda m, x: x.unsqueeze(1), [(R(2, 3),)])
row("transpose", lambda m, x: m.transpose(x, 0, 2), [(R(2, 3, 2),)])
row("transpose(-1,-2)", lambda m, x: x.transpose(-1, -2), [(R(2, 3),)], empty=[(R(0, 3),)])
row("permute", lambda m, x: m.permute(x, (2, 0, 1)), [(R(2, 3, 2),)])
row("permute(negative)", lambda m, x: x.permute(-1, 0, 1), [(R(2, 3, 2),)])
row("t", lambda m, x: m.t(x), [(R(2, 3),), (R(3,),), (R(()),)])
row("T", lambda m, x: x.T, [(R(2, 3),)])
row("mT", lambda m, x: x.mT, [(R(2, 3, 2),), (R(3, 2),)])
row("expand", lambda m, x: x.expand(2, 3, 4), [(R(3, 1),), (R(()),), (R(1, 4),)])
row("expand(-1)", lambda m, x: x.expand(2, -1, 3), [(R(2, 1),)])
row("expand(fn)", lambda m, x: m.broadcast_to(x, (2, 3)), [(R(3,),)],
    torch_fn=lambda m, x: m.broadcast_to(x, (2, 3)))
row("expand_as", lambda m, x, like: x.expand_as(like),
    [(R(3, 1), idx(np.zeros((2, 3, 4)))), (R(()), idx([0, 0]))])
row("repeat", lambda m, x: x.repeat(2, 1, 3), [(R(2, 3),), (R(()),)], empty=[(R(0, 2),)])
row("repeat(same ndim)", lambda m, x: x.repeat(2, 2), [(R(2, 3),)])
row("chunk", lambda m, x: m.chunk(x, 2, 1), [(R(2, 3),), (R(2, 4),)])
row("chunk(uneven)", lambda m, x: x.chunk(3), [(R(5, 2),)])
row("chunk(empty dim)", lambda m, x: x.chunk(2), [], empty=[(R(0, 2),)])
row("split", lambda m, x: m.split(x, 2), [(R(5, 2),)])
row("split(sizes,dim)", lambda m, x: x.split([1, 2], dim=-1), [(R(2, 3),)])
row("cat", lambda m, x, y: m.cat([x, y]), [(R(2, 3), R(1, 3)), (R(3,), R(2,))],
    empty=[(R(0, 3), R(2, 3))])
row("cat(dim=-1)", lambda m, x, y, z: m.cat((x, y, z), dim=-1),
    [(R(2, 1), R(2, 3), R(2, 2))])
row("cat(1-d empty)", lambda m, x, y: m.cat([x, y]), [], empty=[(R(0,), R(2, 3))],
    note="torch skips 1-D empty tensors in cat (legacy rule)")
row("stack", lambda m, x, y: m.stack([x, y]), [(R(2, 3), R(2, 3)), (R(()), R(()))])
row("stack(dim=-1)", lambda m, x, y, z: m.stack([x, y, z], dim=-1), [(R(2, 3), R(2, 3), R(2, 3))])
row("flip", lambda m, x: m.flip(x, (0,)), [(R(3, 2),)], empty=[(R(0, 2),)])
row("flip(0,-1)", lambda m, x: x.flip((0, -1)), [(R(2, 3, 2),)])

# ======================================================================= indexing

row("getitem[int]", lambda m, x: x[1], [(R(3, 2),)])
row("getitem[slice]", lambda m, x: x[:, 1:3], [(R(2, 4),)])
row("getitem[step]", lambda m, x: x[::2, 1:], [(R(5, 3),)])
row("getitem[...]", lambda m, x: x[..., 0], [(R(2, 3, 2),)])
row("getitem[None]", lambda m, x: x[None, :, 1], [(R(2, 3),)])
row("getitem[-1,...,None]", lambda m, x: x[-1, ..., None], [(R(2, 3, 2),)])
row("getitem[empty slice]", lambda m, x: x[1:1], [], empty=[(R(3, 2),)])
row("getitem[negative step]", lambda m, x: x[::-1, 1], [(R(3, 2),)],
    torch_fn=lambda m, x: m.flip(x, (0,))[:, 1],
    note="torch rejects negative steps; chainrule allows them (compared with flip)")
row("getitem[int array]", lambda m, x: x[[0, 2, 0]], [(R(3, 2),)])
row("getitem[:, int tensor]", lambda m, x, i: x[:, i], [(R(2, 3), idx([1, 1, 0, -1]))])
row("getitem[int arrays]", lambda m, x, i, j: x[i, j],
    [(R(3, 4), idx([[0, 2], [2, 2]]), idx([1, 3])), (R(3, 4, 2), idx([0, 0]), idx([3, 3]))])
row("getitem[2-d int tensor]", lambda m, x, i: x[i], [(R(3, 2), idx([[0, 1], [1, 1]]))])
row("getitem[bool mask]", lambda m, x, b: x[b],
    [(R(2, 3), mask([[True, False, True], [False, True, True]])),
     (R(3,), mask([True, False, True]))],
    empty=[(R(2, 3), mask(np.zeros((2, 3), bool)))])
row("getitem[:, bool vector]", lambda m, x, b: x[:, b], [(R(2, 3), mask([True, False, True]))])
row("getitem[bool rows]", lambda m, x, b: x[b], [(R(3, 2), mask([False, True, True]))])
row("getitem[bool list]", lambda m, x: x[[True, False, True]], [(R(3, 2),)])
row("getitem[bool, slice]", lambda m, x, b: x[b, 1:], [(R(2, 3), mask([True, False]))])
row("getitem[int, :, int]", lambda m, x, i, j: x[i, :, j],
    [(R(3, 2, 4), idx([2, 0, 2]), idx([1, 1, 3]))])
row("getitem[0-d int tensor]", lambda m, x, i: x[i], [(R(3, 2), idx(1))])
row("getitem[True]", lambda m, x: x[True], [(R(2,),), (R(()),)])
row("getitem[int tensor, int]", lambda m, x, i: x[i, -1], [(R(3, 2), idx([[0, 0], [2, 1]]))])
row("gather", lambda m, x, i: m.gather(x, 1, i),
    [(R(2, 3), idx([[0, 0, 2], [1, 2, 1]])), (R(3, 4), idx([[3], [0]]))],
    empty=[(R(2, 3), np.zeros((2, 0), np.int64))])
row("gather(dim=0)", lambda m, x, i: x.gather(0, i),
    [(R(3, 2), idx([[0, 2], [0, 0], [2, 1]])), (R(4,), idx([1, 1, 3])), (R(()), idx(0))])
row("scatter_add", lambda m, x, i, s: m.scatter_add(x, 1, i, s),
    [(R(2, 3), idx([[0, 0, 2], [1, 2, 1]]), R(2, 3)), (R(3, 4), idx([[3], [3]]), R(2, 1))])
row("scatter_add(src larger than index)", lambda m, x, i, s: m.scatter_add(x, 1, i, s),
    [(R(3, 4), idx([[3], [3]]), R(2, 2))], compare_torch=False,
    note="torch's backward fails here (gradient of shape index.shape for src); chainrule pads")
row("scatter_add(dim=0)", lambda m, x, i, s: x.scatter_add(0, i, s),
    [(R(3,), idx([2, 2, 0, 2]), R(4,))])
row("index_select", lambda m, x, i: m.index_select(x, 0, i),
    [(R(3, 2), idx([2, 0, 2])), (R(4,), idx([1, 1]))], empty=[(R(3, 2), idx([]))])
row("index_select(dim=-1)", lambda m, x, i: x.index_select(-1, i), [(R(2, 3), idx([2, 2, 1, 0]))])
row("masked_fill", lambda m, x, b: m.masked_fill(x, b, 0.5),
    [(R(2, 3), mask([[True, False, True], [False, False, True]])),
     (R(2, 3), mask([True, False, True]))])
row("masked_fill(tensor value)", lambda m, x, b, v: x.masked_fill(b, v),
    [(R(2, 3), mask([True, False, True]), R(()))])
row("take_along_dim", lambda m, x, i: m.take_along_dim(x, i, 1),
    [(R(2, 3), idx([[0, 0, 2, 1], [2, 2, 2, 0]])), (R(2, 3), idx([[1], [0]]))])
row("take_along_dim(broadcast)", lambda m, x, i: m.take_along_dim(x, i, dim=1),
    [(R(2, 3), idx([[2, 0]])), (R(1, 3), idx([[1], [0], [2]]))])
row("take_along_dim(dim=None)", lambda m, x, i: x.take_along_dim(i), [(R(2, 3), idx([5, 0, 5]))])

# ======================================================================= linear algebra

row("matmul", lambda m, a, b: a @ b,
    [(R(3,), R(3,)), (R(2, 3), R(3,)), (R(3,), R(3, 2)), (R(2, 3), R(3, 4)),
     (R(2, 2, 3), R(3, 2)), (R(2, 1, 2, 3), R(3, 3, 2)), (R(3,), R(2, 3, 2)), (R(2, 2, 3), R(3,))],
    empty=[(R(0, 3), R(3, 2)), (R(2, 0), R(0, 3)), (R(0,), R(0,))], rtol32=1e-4)
row("matmul(fn)", lambda m, a, b: m.matmul(a, b), [(R(1, 2, 3), R(2, 3, 2))], rtol32=1e-4)
row("mm", lambda m, a, b: m.mm(a, b), [(R(2, 3), R(3, 2))], rtol32=1e-4)
row("bmm", lambda m, a, b: a.bmm(b), [(R(2, 2, 3), R(2, 3, 2))], rtol32=1e-4)
row("mv", lambda m, a, b: m.mv(a, b), [(R(2, 3), R(3,))], rtol32=1e-4)
row("dot", lambda m, a, b: m.dot(a, b), [(R(4,), R(4,))], rtol32=1e-4)
row("outer", lambda m, a, b: m.outer(a, b), [(R(3,), R(2,))])
row("einsum(ij,jk->ik)", lambda m, a, b: m.einsum("ij,jk->ik", a, b), [(R(2, 3), R(3, 2))],
    rtol32=1e-4)
row("einsum(bij,bjk->bik)", lambda m, a, b: m.einsum("bij,bjk->bik", a, b),
    [(R(2, 2, 3), R(2, 3, 2))], rtol32=1e-4)
row("einsum(i,i->)", lambda m, a, b: m.einsum("i,i->", a, b), [(R(3,), R(3,))], rtol32=1e-4)
row("einsum(ij->ji)", lambda m, a: m.einsum("ij->ji", a), [(R(2, 3),)])
row("einsum(ij->j)", lambda m, a: m.einsum("ij->j", a), [(R(2, 3),)])
row("einsum(ij,kj)", lambda m, a, b: m.einsum("ij,kj", a, b), [(R(2, 3), R(2, 3))], rtol32=1e-4)
row("einsum(ij,k->ik)", lambda m, a, b: m.einsum("ij,k->ik", a, b), [(R(2, 3), R(2,))],
    rtol32=1e-4)
row("einsum(size-1 broadcast)", lambda m, a, b: m.einsum("ij,ij->i", a, b),
    [(R(1, 3), R(2, 3))], rtol32=1e-4)
row("einsum(3 operands)", lambda m, a, b, c: m.einsum("ij,jk,k->i", [a, b, c]),
    [(R(2, 3), R(3, 2), R(2,))], rtol32=1e-4)

# ======================================================================= softmax family

row("softmax", lambda m, x: m.softmax(x, -1), [(R(2, 3),), (R(4,),), (R(()),)],
    empty=[(R(0, 3),)])
row("softmax(dim=0)", lambda m, x: x.softmax(0), [(R(3, 2),)], empty=[(R(0, 3),)])
row("log_softmax", lambda m, x: m.log_softmax(x, dim=-1), [(R(2, 3),), (R(()),)],
    empty=[(R(0, 3),)])
row("log_softmax(dim=1)", lambda m, x: x.log_softmax(1), [(R(2, 3, 2),)],
    empty=[(R(2, 0, 2),)])
