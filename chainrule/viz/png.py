"""PNG rendering of a Picture with matplotlib's Agg canvas (no pyplot, no display, no
system binaries): the same layout as the SVG."""

from __future__ import annotations

from .picture import LINE_GAP, NOTE_COLOUR, PAD_X, PAD_Y, Picture, smooth_path

DPI = 100


def render_png(pic: Picture, path, scale: float = 2.0) -> None:
    """Write the picture to ``path`` as a PNG, ``scale`` times its SVG size in pixels."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyBboxPatch, PathPatch, Polygon
        from matplotlib.path import Path
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise RuntimeError("chainrule.viz: PNG output needs matplotlib "
                           "(pip install matplotlib); SVG and DOT do not") from exc
    lay = pic.layout
    w, h = pic.width, pic.height
    fig = Figure(figsize=(w / DPI, h / DPI), dpi=DPI * scale)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)  # y down, as in SVG
    ax.axis("off")
    pt = 72.0 / DPI  # px -> points

    for _, _, _, pts in pic.edge_points():
        segs = smooth_path(pts, lay.rankdir)
        verts = [segs[0][0]]
        codes = [Path.MOVETO]
        for _, c1, c2, end in segs:
            verts += [c1, c2, end]
            codes += [Path.CURVE4] * 3
        ax.add_patch(PathPatch(Path(verts, codes), fill=False, edgecolor="#7d8b9b", lw=1.5 * pt,
                               zorder=1))
        ax.add_patch(Polygon(_arrowhead(segs[-1]), closed=True, color="#7d8b9b", zorder=2))

    for b in pic.graph.boxes:
        x, y, bw, bh = lay.boxes[b.id]
        fill, stroke, dashed = pic.style_of(b)
        ax.add_patch(FancyBboxPatch((x, y), bw, bh, boxstyle="round,pad=0,rounding_size=7",
                                    facecolor=fill, edgecolor=stroke, lw=1.4 * pt,
                                    linestyle=(0, (4, 3)) if dashed else "-", zorder=3))
        ty = y + PAD_Y
        for text, style in pic.lines[b.id]:
            size, bold, mono, colour = pic.styles[style]
            ty += size
            ax.text(x + PAD_X, ty - 2, text, fontsize=size * pt, color=colour,
                    fontweight="bold" if bold else "normal",
                    family="monospace" if mono else "sans-serif", va="baseline", ha="left",
                    zorder=4)
            ty += LINE_GAP
    if pic.note:
        size = pic.styles["meta"][0] * 1.1
        ax.text(PAD_X, lay.height + size + 2, pic.note, fontsize=size * pt, color=NOTE_COLOUR,
                va="baseline", ha="left", zorder=4)
    fig.savefig(path, format="png", dpi=DPI * scale, facecolor="white")


def _arrowhead(seg, length: float = 8.0, half: float = 3.6):
    _, _, c2, end = seg
    dx, dy = end[0] - c2[0], end[1] - c2[1]
    n = (dx * dx + dy * dy) ** 0.5 or 1.0
    ux, uy = dx / n, dy / n
    bx, by = end[0] - ux * length, end[1] - uy * length
    return [end, (bx - uy * half, by + ux * half), (bx + uy * half, by - ux * half)]
