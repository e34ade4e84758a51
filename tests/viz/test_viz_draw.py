"""chainrule.viz.draw: SVG, PNG and DOT pictures of the recorded graph, checked for their
content (boxes, labels, edges), not just for existing."""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.viz import build_graph, draw, label_parameters, record
from chainrule.viz.layout import layered_layout

SVG = "{http://www.w3.org/2000/svg}"


def _boxes(svg_text):
    """{box id: (class, [text lines])} of an SVG written by draw."""
    root = ET.fromstring(svg_text.split("?>", 1)[-1])
    out = {}
    for g in root.iter(SVG + "g"):
        if "node" in g.get("class", "").split():
            texts = [t.text for t in g.iter(SVG + "text")]
            out[g.get("data-node")] = (g.get("class"), texts)
    edges = [(p.get("data-src"), p.get("data-dst")) for p in root.iter(SVG + "path")
             if p.get("class") == "edge"]
    return out, edges


def _mlp():
    cr.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(2, 3)
            self.fc2 = nn.Linear(3, 2)

        def forward(self, x):
            return self.fc2(self.fc1(x).relu())

    net = Net()
    x = cr.randn(1, 2)
    y = cr.tensor([1])
    return net, x, y


def test_svg_has_a_box_per_op_and_parameter_with_module_names(tmp_path):
    net, x, y = _mlp()
    loss = F.cross_entropy(net(x), y)
    path = tmp_path / "g.svg"
    assert draw(loss, path, params=net) == str(path)
    boxes, edges = _boxes(path.read_text())
    titles = {texts[0] for _, texts in boxes.values()}
    assert {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"} <= titles
    ops = [texts[0] for cls, texts in boxes.values() if cls.startswith("node op")]
    assert sorted(ops) == ["cross_entropy", "linear", "linear", "relu"]
    # shapes are printed under each title
    by_title = {texts[0]: texts for _, texts in boxes.values()}
    assert by_title["fc1.weight"][1] == "(3, 2)"
    assert by_title["relu"][1] == "(1, 3)"
    # arrows go from inputs to outputs: 3 into each linear, 1 into relu, 2 into the loss
    dst_count = {}
    for _, d in edges:
        dst_count[d] = dst_count.get(d, 0) + 1
    assert sorted(dst_count.values()) == [1, 2, 3, 3]
    assert all(s in boxes and d in boxes for s, d in edges)


def test_small_tensors_show_values_and_gradients():
    w = cr.tensor([0.5, -1.0], requires_grad=True)
    w._name = "w"
    loss = (w * w).sum()
    svg = draw(loss)  # no path: the SVG text
    boxes, _ = _boxes(svg)
    by_title = {texts[0]: texts for _, texts in boxes.values()}
    assert by_title["w"][2] == "value [0.5, -1]"
    assert by_title["w"][3] == "grad  [1, -2]"  # d(sum w^2)/dw = 2w, from the backward walk
    assert by_title["sum"][2] == "value 1.25"
    assert by_title["sum"][3] == "grad  1"
    assert by_title["multiply"][2] == "value [0.25, 1]"


def test_label_parameters_names_leaves_for_any_picture():
    net, x, y = _mlp()
    label_parameters(net)
    svg = draw(F.cross_entropy(net(x), y))
    assert "fc2.bias" in svg and "fc1.weight" in svg


def test_values_of_intermediates_need_a_replayable_graph():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    t = cr.tensor([0.0, 1.0])
    g = build_graph(F.mse_loss(w, t))  # the target of the subtraction was not kept
    assert all(b.value is None for b in g.boxes if b.kind == "op")
    with record():
        loss = F.mse_loss(w, t)
    g = build_graph(loss)
    sub = next(b for b in g.boxes if b.title == "subtract")
    np.testing.assert_allclose(sub.value, [1.0, 1.0])
    # after backward (graph freed) leaves still show their .grad
    loss.backward()
    g = build_graph(loss)
    leaf = next(b for b in g.boxes if b.kind == "param")
    np.testing.assert_allclose(leaf.grad, w.grad.data)


def test_png_is_a_real_picture(tmp_path):
    mpimg = pytest.importorskip("matplotlib.image")
    net, x, y = _mlp()
    path = tmp_path / "g.png"
    draw(F.cross_entropy(net(x), y), path, params=net)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(str(path))
    assert img.shape[0] > 100 and img.shape[1] > 300
    # boxes and text: many distinct colours, and the parameter boxes' fill (#fff3d1) is there
    rgb = (img[..., :3] * 255).round().astype(int)
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 20
    assert ((np.abs(rgb - [255, 243, 209]).sum(-1)) <= 3).sum() > 500


def test_dot_text(tmp_path):
    net, x, y = _mlp()
    path = tmp_path / "g.dot"
    draw(F.cross_entropy(net(x), y), path, params=net)
    dot = path.read_text()
    assert dot.startswith("digraph chainrule {") and dot.rstrip().endswith("}")
    assert "fc1.weight\\l(3, 2)" in dot
    assert len(re.findall(r"^\s+\w+ -> \w+;$", dot, re.M)) == 9
    assert "cross_entropy" in dot


def test_draw_errors(tmp_path):
    w = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="cannot tell the format"):
        draw(w * 2, tmp_path / "g.jpg")
    with pytest.raises(TypeError, match="expected a Tensor"):
        draw([1, 2])
    # a leaf alone is one box
    boxes, edges = _boxes(draw(w))
    assert len(boxes) == 1 and not edges


def test_top_to_bottom_layout_and_big_tensors(tmp_path):
    x = cr.randn(20, 30, requires_grad=True)
    svg = draw((x @ x.T).relu().mean(), rankdir="TB")
    boxes, _ = _boxes(svg)
    # a 20x30 tensor is too big to print: title and shape only
    leaf = next(t for c, t in boxes.values() if c.startswith("node param"))
    assert leaf == ["leaf", "(20, 30)"]


@pytest.mark.parametrize("rankdir", ["LR", "TB"])
def test_layout_ranks_forward_and_no_overlaps(rankdir):
    nodes = {f"n{i}": (60 + 10 * (i % 3), 30 + 5 * (i % 2)) for i in range(9)}
    edges = [("n0", "n2"), ("n1", "n2"), ("n2", "n3"), ("n0", "n3"), ("n3", "n4"),
             ("n5", "n4"), ("n4", "n6"), ("n7", "n6"), ("n0", "n8"), ("n8", "n6")]
    lay = layered_layout(nodes, edges, rankdir)
    axis = 0 if rankdir == "LR" else 1
    for s, d in edges:  # every edge goes forward along the rank axis
        assert lay.boxes[s][axis] + lay.boxes[s][2 + axis] <= lay.boxes[d][axis]
    items = list(lay.boxes.values())
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            (x1, y1, w1, h1), (x2, y2, w2, h2) = items[i], items[j]
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1
    for x, y, w, h in items:
        assert 0 <= x and x + w <= lay.width and 0 <= y and y + h <= lay.height
    # a long edge (n0 -> n3 skips a rank) bends through a point between the ranks
    assert len(lay.edges[("n0", "n3", 0)]) == 3
    with pytest.raises(ValueError, match="cycle"):
        layered_layout({"a": (1, 1), "b": (1, 1)}, [("a", "b"), ("b", "a")])
