"""Pictures of the recorded graph and the backpropagation walk-through.

- ``draw(tensor, path)``: the computational graph behind a tensor as SVG, PNG or DOT.
- ``explain(loss, path)``: an HTML page (or text) that steps through one forward and one
  backward pass with every number, each gradient checked by finite differences.
- ``Inspector``: per-layer training statistics (activations, gradients, updates) and
  warnings about vanishing/exploding gradients, dead ReLUs and NaN losses.
"""

from .draw import draw
from .explain import Walkthrough, explain, walkthrough
from .graph import build_graph, label_parameters
from .inspector import Inspector, InspectorWarning
from .trace import ReplayError, Trace, record

__all__ = [
    "draw", "explain", "walkthrough", "Walkthrough", "build_graph", "label_parameters",
    "Inspector", "InspectorWarning", "record", "Trace", "ReplayError",
]
