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


def test_modules_name_their_parameters_without_params():
    # no params=, no label_parameters: a module names its parameters when they are
    # registered, and a parent re-prefixes them when the module is attached to it
    net, x, y = _mlp()
    boxes, _ = _boxes(draw(F.cross_entropy(net(x), y)))
    titles = {texts[0] for cls, texts in boxes.values() if cls.startswith("node param")}
    assert titles == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 2)))
    boxes, _ = _boxes(draw(seq(x).sum()))
    titles = {texts[0] for cls, texts in boxes.values() if cls.startswith("node param")}
    assert titles == {"0.weight", "0.bias", "2.0.weight", "2.0.bias"}
    assert [p._name for p in seq.parameters()] == [n for n, _ in seq.named_parameters()]


def test_values_without_a_full_replay_and_after_backward():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    t = cr.tensor([0.0, 1.0])
    g = build_graph(F.mse_loss(w, t))  # a tiny target is kept: every value is known
    sub = next(b for b in g.boxes if b.title == "subtract")
    np.testing.assert_allclose(sub.value, [1.0, 1.0])
    assert g.note is None
    # a big constant is not kept: the values that can still be known are shown (from the
    # leaves, from what an op saved, the root's own value), the picture says what is not
    big = cr.zeros(100)
    loss = (w.sum() - big).exp().sum()
    g = build_graph(loss)
    by_op = {b.op: b for b in g.boxes if b.kind == "op"}
    assert by_op["subtract"].value is None
    np.testing.assert_allclose(by_op["exp"].value, np.full(100, np.exp(3.0)), rtol=1e-6)
    np.testing.assert_allclose(by_op["sum"].value, loss.data)
    assert g.note.startswith("some values are not shown: the graph did not keep input 1 of "
                             "subtract")
    with record():
        loss = F.mse_loss(w, t)
    loss.backward()
    # after backward (the graph freed): leaves still show their .grad, the loss its value,
    # and the picture says why the rest is missing
    g = build_graph(loss)
    leaf = next(b for b in g.boxes if b.kind == "param")
    np.testing.assert_allclose(leaf.grad, w.grad.data)
    root = g.by_id[g.root]
    np.testing.assert_allclose(root.value, loss.data)
    svg = draw(loss)
    assert "draw before backward(), or call backward(retain_graph=True)" in svg
    boxes, _ = _boxes(svg)
    assert boxes[g.root][1][-1] == f"value {loss.item():.4g}"
    assert "shape ?" not in svg


def _dark_pixels_in_boxes(path, pic, scale):
    """For each box: the count of near-black pixels (text) well inside its border."""
    mpimg = pytest.importorskip("matplotlib.image")
    img = (mpimg.imread(str(path))[..., :3] * 255).round().astype(int)
    counts = {}
    for bid, (x, y, w, h) in pic.layout.boxes.items():
        x0, y0 = int((x + 4) * scale), int((y + 4) * scale)
        x1, y1 = int((x + w - 4) * scale), int((y + h - 4) * scale)
        region = img[y0:y1, x0:x1]
        counts[bid] = int((region.max(axis=-1) < 90).sum())
    return counts


def test_png_is_a_real_picture_with_its_labels(tmp_path):
    mpimg = pytest.importorskip("matplotlib.image")
    from chainrule.viz.picture import Picture

    net, x, y = _mlp()
    loss = F.cross_entropy(net(x), y)
    path = tmp_path / "g.png"
    draw(loss, path, params=net)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(str(path))
    assert img.shape[0] > 100 and img.shape[1] > 300
    # boxes: the parameter boxes' fill (#fff3d1) is there
    rgb = (img[..., :3] * 255).round().astype(int)
    assert ((np.abs(rgb - [255, 243, 209]).sum(-1)) <= 3).sum() > 500
    # and text in every box: the titles (#1b2733) are the only near-black pixels inside
    # a box's border, so a picture whose labels were not drawn has none there
    pic = Picture(build_graph(loss, params=net))
    assert abs(img.shape[1] - 2 * pic.width) <= 2  # draw's PNG: twice the SVG's size
    counts = _dark_pixels_in_boxes(path, pic, 2.0)
    assert len(counts) == 10 and min(counts.values()) > 40, counts


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


def _hits(lay, samples=24):
    """(edge, box) pairs where an edge's drawn curve passes inside a box that is neither
    of its ends (2 px of slack at the borders)."""
    from chainrule.viz.picture import smooth_path

    hits = []
    for (s, d, _), pts in lay.edges.items():
        for p0, c1, c2, p3 in smooth_path(pts, lay.rankdir):
            for i in range(1, samples):
                t = i / samples
                px, py = ((1 - t) ** 3 * p0[j] + 3 * (1 - t) ** 2 * t * c1[j]
                          + 3 * (1 - t) * t * t * c2[j] + t ** 3 * p3[j] for j in (0, 1))
                for b, (x, y, w, h) in lay.boxes.items():
                    if b not in (s, d) and x + 2 < px < x + w - 2 and y + 2 < py < y + h - 2:
                        hits.append(((s, d), b))
    return hits


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
    # every edge starts on its source's border and ends on its destination's
    for (s, d, _), pts in lay.edges.items():
        sx, sy, sw, sh = lay.boxes[s]
        dx, dy, dw, dh = lay.boxes[d]
        assert pts[0][axis] == pytest.approx((sx, sy)[axis] + (sw, sh)[axis])
        assert pts[-1][axis] == pytest.approx((dx, dy)[axis])
    assert _hits(lay) == []
    with pytest.raises(ValueError, match="cycle"):
        layered_layout({"a": (1, 1), "b": (1, 1)}, [("a", "b"), ("b", "a")])


@pytest.mark.parametrize("rankdir", ["LR", "TB"])
def test_edges_do_not_pass_behind_a_wider_box(rankdir):
    # drawn after backward, relu's box (no values) is narrow beside fc2.weight's in the same
    # rank: its arrow to the second linear used to bend from relu's border, under fc2.weight
    from chainrule.viz.picture import Picture

    net, x, y = _mlp()
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    pic = Picture(build_graph(loss, params=net), rankdir)
    assert _hits(pic.layout) == []
    # and a long edge that skips ranks runs in its own lane through them
    nodes = {"a": (40, 20), "wide": (300, 20), "b": (40, 20), "c": (40, 20)}
    lay = layered_layout(nodes, [("a", "wide"), ("wide", "b"), ("a", "b"), ("c", "b")],
                         rankdir)
    assert _hits(lay) == []
