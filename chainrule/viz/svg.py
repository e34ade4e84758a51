"""SVG rendering of a Picture (plain SVG 1.1: any browser or image viewer shows it)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from .picture import FONT_MONO, FONT_SANS, LINE_GAP, NOTE_COLOUR, PAD_X, PAD_Y, Picture, smooth_path


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _path_d(points, rankdir):
    segs = smooth_path(points, rankdir)
    d = f"M{_n(segs[0][0][0])},{_n(segs[0][0][1])}"
    for _, c1, c2, end in segs:
        d += f" C{_n(c1[0])},{_n(c1[1])} {_n(c2[0])},{_n(c2[1])} {_n(end[0])},{_n(end[1])}"
    return d


def render_svg(pic: Picture, *, standalone: bool = True, progressive: bool = False,
               css_class: str = "cr-graph") -> str:
    """The picture as an SVG document (``standalone``: with the XML declaration).

    ``progressive``: for the walk-through page -- the values of ops and all gradients are
    tagged ``class="v later"`` / ``"g later"`` so that the page's CSS shows each once the
    step that computes it has been reached.
    Every box is a ``<g class="node KIND" id="node-ID" data-node="ID">``; every edge a
    ``<path class="edge" data-src=... data-dst=...>``.
    """
    g = pic.graph
    lay = pic.layout
    w, h = pic.width, pic.height
    out = []
    if standalone:
        out.append('<?xml version="1.0" encoding="UTF-8"?>')
    out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" '
        f'width="{_n(w)}" height="{_n(h)}" viewBox="0 0 {_n(w)} {_n(h)}" '
        f'font-family="{escape(FONT_SANS, {chr(34): "&quot;"})}">')
    out.append(
        '<defs><marker id="cr-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,1 L10,5 L0,9 z" fill="#7d8b9b"/></marker>'
        '<marker id="cr-arrow-hot" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,1 L10,5 L0,9 z" fill="#e8590c"/></marker></defs>')
    out.append(f'<rect class="bg" x="0" y="0" width="{_n(w)}" height="{_n(h)}" fill="#ffffff"/>')
    out.append('<g class="edges">')
    for s, d, pos, pts in pic.edge_points():
        out.append(
            f'<path class="edge" data-src="{s}" data-dst="{d}" data-pos="{pos}" '
            f'd="{_path_d(pts, lay.rankdir)}" fill="none" stroke="#7d8b9b" '
            'stroke-width="1.5" marker-end="url(#cr-arrow)"/>')
    out.append("</g>")
    out.append('<g class="nodes">')
    for b in g.boxes:
        x, y, bw, bh = lay.boxes[b.id]
        fill, stroke, dashed = pic.style_of(b)
        root = " root" if b.id == g.root else ""
        out.append(f'<g class="node {b.kind}{root}" id="node-{b.id}" data-node="{b.id}">')
        out.append(f"<title>{escape(b.heading())}</title>")
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        out.append(
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(bw)}" height="{_n(bh)}" rx="7" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.4"{dash}/>')
        lines = pic.lines[b.id]
        ty = y + PAD_Y
        for text, style in lines:
            size, bold, mono, colour = pic.styles[style]
            ty += size
            cls = {"value": "v", "grad": "g"}.get(style, style)
            if progressive and style == "value" and b.kind == "op":
                cls += " later"
            if progressive and style == "grad":
                cls += " later"
            attrs = f'x="{_n(x + PAD_X)}" y="{_n(ty - 2)}" font-size="{_n(size)}" fill="{colour}"'
            if bold:
                attrs += ' font-weight="bold"'
            if mono:
                attrs += f" font-family={quoteattr(FONT_MONO)}"
            out.append(f'<text class="{cls}" {attrs} xml:space="preserve">{escape(text)}</text>')
            ty += LINE_GAP
        out.append("</g>")
    out.append("</g>")
    if pic.note:
        size = pic.styles["meta"][0] * 1.1
        out.append(f'<text class="note" x="{_n(PAD_X)}" y="{_n(lay.height + size + 2)}" '
                   f'font-size="{_n(size)}" fill="{NOTE_COLOUR}">{escape(pic.note)}</text>')
    out.append("</svg>")
    return "\n".join(out)
