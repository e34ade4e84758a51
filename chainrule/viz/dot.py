"""Graphviz DOT text for a Graph (for readers who have Graphviz: ``dot -Tpdf g.dot``)."""

from __future__ import annotations

from .graph import Graph, box_lines
from .picture import KIND_STYLE, ROOT_STYLE


def render_dot(graph: Graph, rankdir: str = "LR", show_values: bool = True,
               show_grads: bool = True) -> str:
    """The graph as a DOT ``digraph``: one box per op, parameter and constant (labels as
    in the SVG, one line each), edges from inputs to outputs."""
    out = [
        "digraph chainrule {",
        f"  rankdir={rankdir};",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
        '  edge [color="#7d8b9b"];',
    ]
    for b in graph.boxes:
        fill, stroke, dashed = ROOT_STYLE if (b.id == graph.root and b.kind == "op") else \
            KIND_STYLE[b.kind]
        label = "\\l".join(t.replace("\\", "\\\\").replace('"', '\\"')
                           for t, _ in box_lines(b, show_values, show_grads)) + "\\l"
        style = '"rounded,filled,dashed"' if dashed else '"rounded,filled"'
        out.append(f'  {b.id} [label="{label}", fillcolor="{fill}", color="{stroke}", '
                   f"style={style}];")
    for s, d, _ in graph.edges:
        out.append(f"  {s} -> {d};")
    if graph.note:
        note = graph.note.replace("\\", "\\\\").replace('"', '\\"')
        out.append(f'  label="{note}"; labelloc=b; fontsize=10; fontcolor="#a4370c";')
    out.append("}")
    return "\n".join(out) + "\n"
