"""A graph ready to draw: each box's label lines and size, and the layout.

The SVG, PNG and HTML renderers all draw a ``Picture``, so they agree on every position.
Text widths are estimated from character counts (no font files are read): generous
enough for DejaVu and the usual sans-serif and monospace fonts.
"""

from __future__ import annotations

from .graph import Graph, box_lines
from .layout import layered_layout

FONT_SANS = "'DejaVu Sans', 'Segoe UI', Helvetica, Arial, sans-serif"
FONT_MONO = "'DejaVu Sans Mono', Menlo, Consolas, monospace"

# style -> (font size px, bold, monospace, colour)
STYLES = {
    "title": (13.0, True, False, "#1b2733"),
    "meta": (10.5, False, False, "#6b7785"),
    "value": (11.5, False, True, "#1c5d99"),
    "grad": (11.5, False, True, "#b8322a"),
}
PAD_X = 10.0
PAD_Y = 7.0
LINE_GAP = 3.0
MIN_W = 74.0
NOTE_H = 22.0  # the note line under a drawing
NOTE_COLOUR = "#a4370c"

# kind -> (fill, stroke, dashed)
KIND_STYLE = {
    "op": ("#ffffff", "#5f7287", False),
    "param": ("#fff3d1", "#c98a00", False),
    "const": ("#eef1f4", "#9aa5b1", True),
}
ROOT_STYLE = ("#ffe8e6", "#c0392b", False)


def text_width(text: str, style: str, styles=None) -> float:
    size, bold, mono, _ = (styles or STYLES)[style]
    per = 0.61 if mono else (0.64 if bold else 0.58)
    return len(text) * size * per


def scaled_styles(scale: float, title_scale: float = 1.0):
    return {k: (size * scale * (title_scale if k == "title" else 1.0), bold, mono, colour)
            for k, (size, bold, mono, colour) in STYLES.items()}


class Picture:
    """``lines[id]``: the box's label lines ``[(text, style)]``; ``layout``: a Layout;
    ``graph``: the Graph."""

    def __init__(self, graph: Graph, rankdir: str = "LR", show_values: bool = True,
                 show_grads: bool = True, compact: bool = False, scale: float = 1.0):
        self.graph = graph
        self.rankdir = rankdir
        self.styles = scaled_styles(scale, 1.2 if compact else 1.0)
        self.lines = {}
        sizes = {}
        for b in graph.boxes:
            lines = box_lines(b, show_values, show_grads, compact)
            self.lines[b.id] = lines
            w = max(text_width(t, s, self.styles) for t, s in lines) + 2 * PAD_X
            h = sum(self.styles[s][0] + LINE_GAP for _, s in lines) - LINE_GAP + 2 * PAD_Y
            sizes[b.id] = (max(w, MIN_W * scale), h)
        self.sizes = sizes
        self.layout = layered_layout(sizes, [(s, d) for s, d, _ in graph.edges], rankdir,
                                     rank_gap=44 if compact else 56)

    @property
    def note(self):
        """A line under the drawing: what it cannot show, and why (or None)."""
        return self.graph.note

    @property
    def width(self) -> float:
        if self.note:
            return max(self.layout.width, text_width(self.note, "meta", self.styles) + 2 * PAD_X)
        return self.layout.width

    @property
    def height(self) -> float:
        return self.layout.height + (NOTE_H if self.note else 0.0)

    def style_of(self, box):
        if box.id == self.graph.root and box.kind == "op":
            return ROOT_STYLE
        return KIND_STYLE[box.kind]

    def edge_points(self):
        """``[(src, dst, position, points)]`` in the graph's edge order."""
        out = []
        count = {}
        for s, d, pos in self.graph.edges:
            k = count.get((s, d), 0)
            count[(s, d)] = k + 1
            out.append((s, d, pos, self.layout.edges[(s, d, k)]))
        return out


def smooth_path(points, rankdir: str):
    """Cubic Bézier segments through ``points`` with tangents along the rank axis:
    ``[(start, c1, c2, end), ...]``."""
    segs = []
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if rankdir == "LR":
            dx = (x1 - x0) / 2
            segs.append(((x0, y0), (x0 + dx, y0), (x1 - dx, y1), (x1, y1)))
        else:
            dy = (y1 - y0) / 2
            segs.append(((x0, y0), (x0, y0 + dy), (x1, y1 - dy), (x1, y1)))
    return segs
