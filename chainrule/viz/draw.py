"""``draw``: the computational graph behind a tensor, as SVG, PNG or Graphviz DOT."""

from __future__ import annotations

import os

from ..tensor import Tensor
from .graph import build_graph
from .picture import Picture

FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot"}


def draw(tensor: Tensor, path=None, *, format: str | None = None, params=None, names=None,
         rankdir: str = "LR", values: bool = True, grads: bool = True):
    """Draw the graph that computed ``tensor``: one box per op (its name, output shape and,
    for small tensors, values and gradients), one per parameter (labelled by its module
    name, ``fc1.weight``: a Module names the parameters registered in it) and constant,
    arrows from inputs to outputs.

    ``path``: where to write; the format comes from its suffix (``.svg``, ``.png``,
    ``.dot``/``.gv``) unless ``format`` says.  Without ``path`` the SVG (or DOT) text is
    returned.  ``rankdir``: ``"LR"`` or ``"TB"``.  Values need a graph not yet freed by
    ``backward()`` (draw first, or ``backward(retain_graph=True)``): drawn after it, a box
    shows what is still known (its shape, the drawn tensor's value, leaves' ``.grad``) and
    a note under the picture says why the rest is missing.  Gradients are the leaves'
    ``.grad``, or, for a one-element ``tensor`` whose graph is intact, dL/d(value) for
    every box.

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> svg = cr.viz.draw((w * w).sum())
    >>> "multiply" in svg and "sum" in svg
    True
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw: expected a Tensor, got {type(tensor).__name__}")
    if format is None:
        if path is None:
            format = "svg"
        else:
            ext = os.path.splitext(str(path))[1].lower()
            if ext not in FORMATS:
                raise ValueError(f"draw: cannot tell the format of {str(path)!r}; use a .svg, "
                                 ".png or .dot path, or pass format=")
            format = FORMATS[ext]
    if format not in ("svg", "png", "dot"):
        raise ValueError(f"draw: format must be 'svg', 'png' or 'dot', got {format!r}")
    graph = build_graph(tensor, params=params, names=names, values=values, grads=grads)
    if format == "dot":
        from .dot import render_dot

        text = render_dot(graph, rankdir, values, grads)
    else:
        pic = Picture(graph, rankdir, values, grads)
        if format == "png":
            if path is None:
                raise ValueError("draw: PNG output needs a path")
            from .png import render_png

            render_png(pic, path)
            return str(path)
        from .svg import render_svg

        text = render_svg(pic)
    if path is None:
        return text
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return str(path)
