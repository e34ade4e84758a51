"""A layered graph layout in pure Python (no Graphviz needed).

The classic Sugiyama steps, kept small: rank the nodes so that every edge goes forward
(a node sits just before its first consumer, so parameters land beside the op that reads
them), break long edges with dummy points, order each rank by barycenters to reduce
crossings, then place each node near the mean of its neighbours without overlaps.
``rankdir`` is ``"LR"`` (inputs on the left) or ``"TB"`` (inputs on top).
"""

from __future__ import annotations


class Layout:
    """Positions: ``boxes[id] = (x, y, w, h)`` (top-left corner), ``edges[(src, dst, k)]``
    = the points an edge passes through (first on ``src``'s border, last on ``dst``'s),
    ``width`` and ``height`` of the drawing."""

    def __init__(self, boxes, edges, width, height, rankdir):
        self.boxes = boxes
        self.edges = edges
        self.width = width
        self.height = height
        self.rankdir = rankdir


def layered_layout(nodes, edges, rankdir: str = "LR", rank_gap: float = 56,
                   node_gap: float = 26, margin: float = 16) -> Layout:
    """Lay out ``nodes`` (``{id: (w, h)}``, in a stable order) joined by ``edges``
    (``(src, dst)`` pairs; repeats allowed)."""
    if rankdir not in ("LR", "TB"):
        raise ValueError(f"rankdir must be 'LR' or 'TB', got {rankdir!r}")
    ids = list(nodes)
    succ = {v: [] for v in ids}
    pred = {v: [] for v in ids}
    for s, d in edges:
        succ[s].append(d)
        pred[d].append(s)
    rank = _ranks(ids, succ, pred)

    # dummy points on edges that skip ranks (one per skipped rank)
    chain_of = {}  # (s, d, k) -> [s, dummies..., d]
    vsucc = {v: [] for v in ids}
    vpred = {v: [] for v in ids}
    vrank = dict(rank)
    size = {v: nodes[v] for v in ids}
    seen_pairs = {}
    for s, d in edges:
        k = seen_pairs.get((s, d), 0)
        seen_pairs[(s, d)] = k + 1
        chain = [s]
        for r in range(rank[s] + 1, rank[d]):
            dummy = ("dummy", s, d, k, r)
            vrank[dummy] = r
            size[dummy] = (0.0, 0.0)
            vsucc[dummy] = []
            vpred[dummy] = []
            chain.append(dummy)
        chain.append(d)
        for a, b in zip(chain, chain[1:]):
            vsucc[a].append(b)
            vpred[b].append(a)
        chain_of[(s, d, k)] = chain

    nranks = max(vrank.values()) + 1 if vrank else 0
    layers = [[] for _ in range(nranks)]
    for v in _initial_order(ids, vsucc, vpred, vrank):
        layers[vrank[v]].append(v)
    layers = _reduce_crossings(layers, vsucc, vpred)

    along = 0 if rankdir == "LR" else 1  # the axis ranks advance along
    across = 1 - along
    # rank positions along the main axis
    rank_pos = []
    p = margin
    for layer in layers:
        depth = max((size[v][along] for v in layer), default=0.0)
        rank_pos.append((p, depth))
        p += depth + rank_gap
    extent_along = p - rank_gap + margin

    centre = _place_across(layers, size, vsucc, vpred, across, node_gap)
    lo = min((centre[v] - size[v][across] / 2 for v in centre), default=0.0)
    shift = margin - lo
    hi = max((centre[v] + size[v][across] / 2 for v in centre), default=0.0) + shift

    boxes = {}
    point = {}
    for r, layer in enumerate(layers):
        start, depth = rank_pos[r]
        for v in layer:
            w, h = size[v]
            c_across = centre[v] + shift
            c_along = start + depth / 2
            if rankdir == "LR":
                cx, cy = c_along, c_across
            else:
                cx, cy = c_across, c_along
            point[v] = (cx, cy)
            if not isinstance(v, tuple):
                boxes[v] = (cx - w / 2, cy - h / 2, w, h)

    def at(along_pos, across_pos):
        return (along_pos, across_pos) if rankdir == "LR" else (across_pos, along_pos)

    # an edge runs straight along its own lane through every rank it crosses (from a box's
    # edge to the end of the box's rank, and through the ranks it skips), and bends only
    # in the gaps between ranks: so it never passes behind a wider box of the same rank
    routes = {}
    for key, chain in chain_of.items():
        s, d = chain[0], chain[-1]
        first = _port(boxes[s], rankdir, out=True)
        pts = [first]
        start, depth = rank_pos[vrank[s]]
        if first[along] < start + depth - 0.5:
            pts.append(at(start + depth, first[across]))
        for v in chain[1:-1]:
            start, depth = rank_pos[vrank[v]]
            pts += [at(start, point[v][across]), at(start + depth, point[v][across])]
        last = _port(boxes[d], rankdir, out=False)
        start, _ = rank_pos[vrank[d]]
        if last[along] > start + 0.5:
            pts.append(at(start, last[across]))
        pts.append(last)
        routes[key] = [p for k, p in enumerate(pts) if k == 0 or p != pts[k - 1]]
    width = extent_along if rankdir == "LR" else hi + margin
    height = hi + margin if rankdir == "LR" else extent_along
    return Layout(boxes, routes, width, height, rankdir)


def _port(box, rankdir, out):
    x, y, w, h = box
    if rankdir == "LR":
        return (x + w, y + h / 2) if out else (x, y + h / 2)
    return (x + w / 2, y + h) if out else (x + w / 2, y)


def _ranks(ids, succ, pred):
    """Longest path to a sink, counted back from the last rank: a node sits one rank
    before its earliest consumer."""
    order = _topo(ids, succ, pred)
    dist = {}
    for v in reversed(order):
        dist[v] = max((dist[s] + 1 for s in succ[v]), default=0)
    top = max(dist.values(), default=0)
    rank = {v: top - dist[v] for v in ids}
    # pull sources forward to just before their first consumer (they have no inputs)
    for v in ids:
        if not pred[v] and succ[v]:
            rank[v] = min(rank[s] for s in succ[v]) - 1
    return rank


def _topo(ids, succ, pred):
    indeg = {v: len(pred[v]) for v in ids}
    ready = [v for v in ids if indeg[v] == 0]
    order = []
    while ready:
        v = ready.pop(0)
        order.append(v)
        for s in succ[v]:
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append(s)
    if len(order) != len(ids):
        raise ValueError("layered_layout: the graph has a cycle")
    return order


def _initial_order(ids, vsucc, vpred, vrank):
    """A depth-first post-order from the sinks, inputs in their positional order, so that
    an op's inputs start out next to each other, first input first."""
    order, seen = [], set()
    for root in [v for v in ids if not vsucc[v]]:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(vpred[root]))]
        while stack:
            v, preds = stack[-1]
            for u in preds:
                if u not in seen:
                    seen.add(u)
                    stack.append((u, iter(vpred[u])))
                    break
            else:
                stack.pop()
                order.append(v)
    order += [v for v in vrank if v not in seen]
    return order


def _crossings(layers, vsucc):
    total = 0
    for a, b in zip(layers, layers[1:]):
        pos = {v: i for i, v in enumerate(b)}
        pairs = [(i, pos[s]) for i, v in enumerate(a) for s in vsucc[v] if s in pos]
        for x in range(len(pairs)):
            for y in range(x + 1, len(pairs)):
                (a1, b1), (a2, b2) = pairs[x], pairs[y]
                if (a1 - a2) * (b1 - b2) < 0:
                    total += 1
    return total


def _reduce_crossings(layers, vsucc, vpred, sweeps: int = 8):
    best = [list(layer) for layer in layers]
    best_count = _crossings(best, vsucc)
    cur = [list(layer) for layer in layers]
    for it in range(sweeps):
        down = it % 2 == 0
        rng = range(1, len(cur)) if down else range(len(cur) - 2, -1, -1)
        for r in rng:
            ref = cur[r - 1] if down else cur[r + 1]
            pos = {v: i for i, v in enumerate(ref)}
            nbrs = vpred if down else vsucc

            def key(item, pos=pos, nbrs=nbrs):
                i, v = item
                ps = [pos[u] for u in nbrs[v] if u in pos]
                return (sum(ps) / len(ps) if ps else i, i)

            cur[r] = [v for _, v in sorted(enumerate(cur[r]), key=key)]
        count = _crossings(cur, vsucc)
        if count < best_count:
            best, best_count = [list(layer) for layer in cur], count
    return best


def _place_across(layers, size, vsucc, vpred, across, gap):
    """Centres across the ranks: start packed, then move each node toward the mean of its
    neighbours' centres, keeping the order and the gaps (a few sweeps both ways)."""
    centre = {}
    for layer in layers:
        p = 0.0
        for v in layer:
            s = size[v][across]
            centre[v] = p + s / 2
            p += s + gap
    for it in range(12):
        down = it % 2 == 0
        rng = range(len(layers)) if down else range(len(layers) - 1, -1, -1)
        for r in rng:
            layer = layers[r]
            want = []
            for v in layer:
                nb = list(vpred[v]) + list(vsucc[v])
                want.append(sum(centre[u] for u in nb) / len(nb) if nb else centre[v])
            _pack(layer, want, size, across, gap, centre)
    return centre


def _pack(layer, want, size, across, gap, centre):
    """Place ``layer`` in order as near ``want`` as the gaps allow (blocks of nodes that
    touch are moved together to their mean wish: the least-squares placement)."""
    blocks = []  # [first index, last index, position of the first node's centre]
    for i in range(len(layer)):
        blocks.append([i, i, want[i]])
        while len(blocks) > 1:
            a, b = blocks[-2], blocks[-1]
            end_a = a[2] + _span(layer, a[0], a[1], size, across, gap)
            need = end_a + size[layer[a[1]]][across] / 2 + gap + size[layer[b[0]]][across] / 2
            if b[2] >= need:
                break
            # merge: the block's offsets are fixed; choose its start to fit the wishes
            lo, hi = a[0], b[1]
            offs = [_span(layer, lo, k, size, across, gap) for k in range(lo, hi + 1)]
            start = sum(want[k] - offs[k - lo] for k in range(lo, hi + 1)) / (hi - lo + 1)
            blocks[-2:] = [[lo, hi, start]]
    for lo, hi, start in blocks:
        for k in range(lo, hi + 1):
            centre[layer[k]] = start + _span(layer, lo, k, size, across, gap)


def _span(layer, lo, k, size, across, gap):
    """Distance between the centres of ``layer[lo]`` and ``layer[k]`` when packed."""
    d = 0.0
    for m in range(lo, k):
        d += size[layer[m]][across] / 2 + gap + size[layer[m + 1]][across] / 2
    return d
