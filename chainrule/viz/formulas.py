"""What each primitive computes and what its local derivatives are, written for a reader.

Formulas use a tiny markup that both the HTML and the text renderer understand:
``⟦h1⟧`` is a symbol (a value of the graph), ``⟪L|h1⟫`` the derivative dL/dh1.  In a
template ``{o}`` is the op's output, ``{0}``, ``{1}``, ... its inputs, ``{c}`` a
parameter of the op (power's exponent) and ``{*}`` an elementwise product (``·`` between
numbers, ``⊙`` between arrays).  The *numbers* come from the library (the VJPs), not
from these strings: a template only tells the reader which rule produced them.
"""

from __future__ import annotations

# forward: the op's definition
FORWARD = {
    "add": "{o} = {0} + {1}",
    "subtract": "{o} = {0} − {1}",
    "multiply": "{o} = {0} {*} {1}",
    "divide": "{o} = {0} / {1}",
    "negative": "{o} = −{0}",
    "power_scalar": "{o} = {0}^{c}",
    "power": "{o} = {0}^{1}",
    "exp": "{o} = exp({0})",
    "expm1": "{o} = exp({0}) − 1",
    "log": "{o} = log({0})",
    "log1p": "{o} = log(1 + {0})",
    "sqrt": "{o} = √{0}",
    "sin": "{o} = sin({0})",
    "cos": "{o} = cos({0})",
    "absolute": "{o} = |{0}|",
    "tanh": "{o} = tanh({0})",
    "sigmoid": "{o} = σ({0}) = 1 / (1 + e^(−{0}))",
    "log_sigmoid": "{o} = log σ({0})",
    "relu": "{o} = relu({0}) = max({0}, 0)",
    "maximum": "{o} = max({0}, {1})",
    "minimum": "{o} = min({0}, {1})",
    "matmul": "{o} = {0} @ {1}",
    "linear": "{o} = {0} {1}ᵀ + {2}",
    "linear/2": "{o} = {0} {1}ᵀ",
    "sum": "{o} = Σ {0}",
    "softmax": "{o} = softmax({0})",
    "log_softmax": "{o} = log softmax({0})",
    "cross_entropy": "{o} = −log softmax({0})[{1}]",
    "binary_cross_entropy": "{o} = −({1} {*} log {0} + (1 − {1}) {*} log(1 − {0}))",
    "reshape": "{o} = {0} reshaped",
    "transpose": "{o} = {0}ᵀ",
    "broadcast_to": "{o} = {0} broadcast",
    "getitem": "{o} = {0}[index]",
    "cast": "{o} = {0} converted",
    "clone": "{o} = {0}",
}

# local derivative d{o}/d{i}, one entry per input (None: shown only as a Jacobian)
LOCAL = {
    "add": ["1", "1"],
    "subtract": ["1", "−1"],
    "multiply": ["{1}", "{0}"],
    "divide": ["1 / {1}", "−{0} / {1}²"],
    "negative": ["−1"],
    "power_scalar": ["{c} · {0}^({c} − 1)"],
    "exp": ["exp({0}) = {o}"],
    "expm1": ["exp({0}) = {o} + 1"],
    "log": ["1 / {0}"],
    "log1p": ["1 / (1 + {0})"],
    "sqrt": ["1 / (2 · {o})"],
    "sin": ["cos({0})"],
    "cos": ["−sin({0})"],
    "absolute": ["sign({0})"],
    "tanh": ["1 − {o}²"],
    "sigmoid": ["σ′({0}) = {o} {*} (1 − {o})"],
    "log_sigmoid": ["1 − σ({0})"],
    "relu": ["1 if {0} > 0, else 0"],
    "binary_cross_entropy": ["({0} − {1}) / ({0} {*} (1 − {0}))", "log(1 − {0}) − log {0}"],
    "clone": ["1"],
    "cast": ["1"],
}

# the matrix form of the chain rule for ops that mix entries
COMPACT = {
    "linear": ["⟪L|{0}⟫ = ⟪L|{o}⟫ {1}", "⟪L|{1}⟫ = (⟪L|{o}⟫)ᵀ {0}",
               "⟪L|{2}⟫ = ⟪L|{o}⟫ summed over rows"],
    "matmul": ["⟪L|{0}⟫ = ⟪L|{o}⟫ @ {1}ᵀ", "⟪L|{1}⟫ = {0}ᵀ @ ⟪L|{o}⟫"],
    "sum": ["⟪L|{0}⟫ = ⟪L|{o}⟫ copied to every entry"],
    "softmax": ["⟪L|{0}⟫ = {o} ⊙ (⟪L|{o}⟫ − Σ(⟪L|{o}⟫ ⊙ {o}))"],
    "log_softmax": ["⟪L|{0}⟫ = ⟪L|{o}⟫ − softmax({0}) · Σ ⟪L|{o}⟫"],
    "transpose": ["⟪L|{0}⟫ = (⟪L|{o}⟫)ᵀ"],
    "reshape": ["⟪L|{0}⟫ = ⟪L|{o}⟫ reshaped back"],
    "broadcast_to": ["⟪L|{0}⟫ = ⟪L|{o}⟫ summed over the broadcast axes"],
    "getitem": ["⟪L|{0}⟫ = ⟪L|{o}⟫ put back at the indexed places, 0 elsewhere"],
}


def sym(name: str) -> str:
    return f"⟦{name}⟧"


def deriv(num: str, den: str) -> str:
    return f"⟪{num}|{den}⟫"


def fill(template: str, out: str, inputs, param=None, many: bool = False) -> str:
    """``template`` with ``{o}``, ``{0}``... replaced by ``out``/``inputs`` (strings),
    ``{c}`` by ``param`` and ``{*}`` by ``⊙`` (``many``: the values are arrays) or ``·``.
    (A plain replace: the markup's own braces are never used.)"""
    s = template.replace("{o}", out).replace("{*}", "⊙" if many else "·")
    for i, v in enumerate(inputs):
        s = s.replace("{" + str(i) + "}", v)
    if param is not None:
        s = s.replace("{c}", param)
    return s


def fill_numbers(template: str, out: str, inputs, param=None, many: bool = False) -> str:
    """``fill`` for numbers: a negative number after an operator gets parentheses
    (``e^(−(-0.5))``, ``2 · (-0.5)``; but ``σ(-0.5)``, ``-0.5 · 2``)."""
    template = template.replace("{*}", "⊙" if many else "·")
    values = {"{o}": out}
    for i, v in enumerate(inputs):
        values["{" + str(i) + "}"] = v
    if param is not None:
        values["{c}"] = param
    out_s = []
    i = 0
    while i < len(template):
        for key, v in values.items():
            if template.startswith(key, i):
                before = template[:i].rstrip()[-1:]
                if v.startswith("-") and before and before in "·−+×/^*-⊙":
                    v = f"({v})"
                out_s.append(v)
                i += len(key)
                break
        else:
            out_s.append(template[i])
            i += 1
    return "".join(out_s)


def fmt_number(x) -> str:
    from .graph import fmt

    return fmt(x)


def cross_entropy_target(eps: float, classes: int, weighted: bool) -> str:
    """The target row that cross-entropy's gradient subtracts from the softmax."""
    if weighted:
        return (f"(1 − ε) · w[y] · onehot(y) + ε/K · w, ε = {fmt_number(eps)}, K = {classes}"
                if eps else "w[y] · onehot(y)")
    if eps:
        return (f"(1 − ε) · onehot(y) + ε/K = {fmt_number(1 - eps)} · onehot(y) + "
                f"{fmt_number(eps)}/{classes}")
    return "onehot(y)"


def cross_entropy_compact(params, weighted: bool, ignored: bool) -> str:
    """Cross-entropy's gradient for the logits, written for the options it ran with:
    label smoothing ε (the target is (1 − ε)·onehot + ε/K), class weights, the reduction
    and ignored rows."""
    params = params or {}
    eps = float(params.get("label_smoothing") or 0.0)
    red = params.get("reduction", "mean")
    target = "onehot({1})" if not eps and not weighted else "t"
    p = "softmax({0})" if not weighted else "s ⊙ softmax({0})"
    body = f"({p} − {target})"
    if red == "mean":
        body += " / N" if not weighted and not ignored else " / Σ w[y]"
        rule = f"⟪L|{{0}}⟫ = ⟪L|{{o}}⟫ · {body}"
    elif red == "sum":
        rule = f"⟪L|{{0}}⟫ = ⟪L|{{o}}⟫ · {body}"
    else:
        rule = f"row i of ⟪L|{{0}}⟫ = (⟪L|{{o}}⟫)ᵢ · {body} (row i)"
    if target == "t":
        rule += ", t = " + ("(1 − ε) · onehot({1}) + ε/K" if not weighted else
                            "(1 − ε) · w[y] · onehot({1}) + ε/K · w")
    if weighted:
        rule += ", s = (1 − ε) · w[y] + ε/K · Σ w" if eps else ", s = w[y]"
    if ignored:
        rule += f"; rows whose target is ignore_index ({params.get('ignore_index')}) get 0"
    return rule


def forward_template(op: str, n_inputs: int, params=None) -> str:
    if op == "linear" and n_inputs == 2:
        return FORWARD["linear/2"]
    if op == "cross_entropy" and params:
        eps = params.get("label_smoothing") or 0.0
        t = FORWARD[op]
        if eps:
            t = ("{o} = (1 − ε) · (−log softmax({0})[{1}]) + ε · mean over the classes k of "
                 f"(−log softmax({{0}})[k]), ε = {fmt_number(eps)} (label smoothing)")
        if n_inputs > 2:
            t += ", each row weighted by its class's weight {2}[{1}]"
        return t + {"mean": ", averaged over the rows", "sum": ", summed over the rows"
                    }.get(params.get("reduction"), "")
    t = FORWARD.get(op)
    if t is None:
        args = ", ".join("{" + str(i) + "}" for i in range(n_inputs))
        t = "{o} = " + op + "(" + args + ")"
    return t


def op_param(op: str, params) -> str | None:
    """The parameter a formula shows (power's exponent)."""
    if op == "power_scalar" and params and "c" in params:
        from .graph import fmt

        return fmt(params["c"])
    return None


_MINUS = __import__("re").compile(r"(?<![\w.)\]])-(?=\d|inf)")


def minus(text: str) -> str:
    """Negative numbers with the minus sign the formulas use (``−0.5``, not ``-0.5``);
    hyphens in words and ranges (``2-3-2``, ``1e-05``) stay."""
    return _MINUS.sub("−", text)


def plain(markup: str, unicode: bool = True) -> str:
    """The markup as terminal text: ``⟦h1⟧`` -> ``h1``, ``⟪L|h1⟫`` -> ``dL/dh1``."""
    out = []
    i = 0
    while i < len(markup):
        ch = markup[i]
        if ch == "⟦":
            j = markup.index("⟧", i)
            out.append(markup[i + 1:j])
            i = j + 1
        elif ch == "⟪":
            j = markup.index("⟫", i)
            num, den = markup[i + 1:j].split("|", 1)
            out.append(f"d{plain(num)}/d{plain(den)}")
            i = j + 1
        else:
            out.append(ch)
            i += 1
    s = "".join(out)
    if not unicode:
        s = to_ascii(s)
    return s


_ASCII = {
    "−": "-", "·": "*", "σ": "sigmoid", "σ′": "sigmoid'", "′": "'", "Σ": "sum ", "⊙": "(*)",
    "ᵀ": "^T", "√": "sqrt", "²": "^2", "ŷ": "y_hat", "←": "<-", "×": "x", "…": "...",
    "≈": "~", "✓": "ok", "✗": "MISMATCH", "→": "->", "η": "lr", "│": "|", "─": "-",
    "Δ": "delta ", "ℓ": "l", "ᵢ": "_i", "≤": "<=", "⋮": ":",
}


def to_ascii(s: str) -> str:
    for k in sorted(_ASCII, key=len, reverse=True):
        s = s.replace(k, _ASCII[k])
    return s.encode("ascii", "replace").decode("ascii")
