"""The training inspector: its statistics (checked against values computed directly), its
picture, and the warnings it gives when a test provokes vanishing, exploding or NaN
gradients and dead ReLUs."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F
from chainrule.viz import Inspector, InspectorWarning


def _data():
    cr.manual_seed(0)
    X = cr.randn(64, 4)
    y = (X[:, 0] > 0).long()
    return X, y


def _train(model, epochs, mutate=None, lr=0.1, loss_fn=F.cross_entropy, batch=16):
    X, y = _data()
    opt = optim.SGD(model.parameters(), lr=lr)
    msgs = []
    insp = Inspector(model, on_warning=msgs.append)
    for ep in range(epochs):
        if mutate is not None:
            mutate(ep, model)
        for i in range(0, len(X), batch):
            xb, yb = X[i:i + batch], y[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            insp.step(loss, rerun=lambda xb=xb, yb=yb: loss_fn(model(xb), yb))
            opt.step()
        insp.end_epoch()
    insp.close()
    return insp, msgs


def test_statistics_match_direct_computation():
    X, y = _data()
    cr.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    opt = optim.SGD(model.parameters(), lr=0.5)
    insp = Inspector(model)
    before = [p.data.copy() for p in model.parameters()]
    opt.zero_grad()
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    g = [p.grad.data.copy() for p in model.parameters()]
    insp.step(loss)
    opt.step()
    insp.end_epoch()
    # layer "0": activations are the ReLU's outputs on the whole batch
    h = np.maximum(X.data @ before[0].T + before[1], 0)
    assert insp.history["act_mean"]["0"][0] == pytest.approx(h.mean(), rel=1e-5)
    assert insp.history["act_std"]["0"][0] == pytest.approx(h.std(), rel=1e-4)
    assert insp.history["dead_frac"]["0"][0] == pytest.approx((h.max(0) <= 0).mean())
    # the last layer has no activation after it: its own outputs (logits)
    logits = h @ before[2].T + before[3]
    assert insp.history["act_mean"]["2"][0] == pytest.approx(logits.mean(), rel=1e-4)
    assert math.isnan(insp.history["dead_frac"]["2"][0])
    gn = math.sqrt(float((g[0] ** 2).sum() + (g[1] ** 2).sum()))
    assert insp.history["grad_norm"]["0"][0] == pytest.approx(gn, rel=1e-5)
    # update-to-weight ratio of plain SGD: lr * |g| / |w|
    wn = math.sqrt(float((before[0] ** 2).sum() + (before[1] ** 2).sum()))
    assert insp.history["update_ratio"]["0"][0] == pytest.approx(0.5 * gn / wn, rel=1e-4)
    assert insp.history["loss"] == [pytest.approx(loss.item())]
    assert insp.messages == []


def test_eval_mode_forwards_are_not_counted():
    X, y = _data()
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    with Inspector(model) as insp:
        model.eval()
        model(X)
        model.train()
        model(X[:8])
        insp.end_epoch(loss=1.0)
    h = np.tanh(X.data[:8] @ model[0].weight.data.T + model[0].bias.data)
    assert insp.history["act_mean"]["0"][0] == pytest.approx(h.mean(), rel=1e-5)
    assert not model._forward_hooks and not model[0]._forward_hooks  # closed: hooks removed


def test_healthy_training_gives_no_warning_and_a_picture(tmp_path):
    pytest.importorskip("matplotlib")
    cr.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(),
                          nn.Linear(8, 2))
    insp, msgs = _train(model, 3)
    assert msgs == []
    assert insp.history["epoch"] == [1, 2, 3]
    assert set(insp.history["grad_norm"]) == {"0", "2", "4"}
    path = tmp_path / "inspect.png"
    insp.plot(path, title="test")
    import matplotlib.image as mpimg

    img = mpimg.imread(str(path))
    assert img.shape[0] >= 600 and img.shape[1] >= 1200
    assert len(np.unique((img[..., :3] * 255).astype(int).reshape(-1, 3), axis=0)) > 50


def test_dead_relus_are_reported():
    def kill(ep, model):
        if ep == 1:
            with cr.no_grad():
                model[0].bias.fill_(-100.0)

    cr.manual_seed(3)
    insp, msgs = _train(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), 3, kill)
    assert insp.history["dead_frac"]["0"][1] == 1.0
    dead = [m for m in msgs if m.startswith("dead ReLUs in layer 0")]
    assert len(dead) == 1 and "100%" in dead[0] and "epoch 2" in dead[0]


def test_vanishing_gradients_are_reported():
    def saturate(ep, model):  # sigmoid pushed far into its flat tails: sigma' = 0
        if ep == 1:
            with cr.no_grad():
                model[0].weight.mul_(1e6)
                model[0].bias.fill_(1e6)

    cr.manual_seed(4)
    insp, msgs = _train(nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 2)), 3,
                        saturate)
    assert any(m.startswith("vanishing gradients in layer 0") and "epoch 2" in m for m in msgs)
    assert not any("layer 2" in m for m in msgs)


def test_exploding_gradients_are_reported():
    def blow_up(ep, model):
        if ep == 1:
            with cr.no_grad():
                model[2].weight.mul_(1e5)

    cr.manual_seed(5)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(),
                          nn.Linear(8, 2))
    insp, msgs = _train(model, 2, blow_up, lr=1e-9)
    exploding = [m for m in msgs if m.startswith("exploding gradients")]
    assert any("layer 0" in m for m in exploding)
    assert insp.history["grad_norm"]["0"][1] > 1e3 * insp.history["grad_norm"]["0"][0]


def test_nan_loss_names_the_first_op_with_anomaly_mode():
    def bad_loss(out, y):
        return (out.sum(1) - 100.0).log().mean()  # log of a negative number: NaN

    cr.manual_seed(6)
    with np.errstate(invalid="ignore"):
        insp, msgs = _train(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)), 1,
                            loss_fn=bad_loss)
    nan = [m for m in msgs if "NaN" in m]
    assert len(nan) == 1
    assert nan[0].startswith("the loss is NaN at epoch 1, step 1")
    assert "log produced NaN or Inf in its forward pass" in nan[0]
    assert "test_viz_inspector.py" in nan[0]  # the user's line that called the op
    assert nan[0].endswith("; it ran after the model's forward (in the loss function)")
    assert not cr.autograd.is_anomaly_enabled()  # anomaly mode only for the rerun


def test_nan_names_the_module_it_ran_in_and_the_rerun_is_not_counted():
    class Log(nn.Module):  # a module whose forward makes NaN from negative inputs
        def forward(self, x):
            return x.log()

    cr.manual_seed(6)
    model = nn.Sequential(nn.Linear(4, 3), Log(), nn.Linear(3, 2))
    X, y = _data()
    insp = Inspector(model, on_warning=lambda m: None)
    with np.errstate(invalid="ignore"):
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        insp.step(loss, rerun=lambda: F.cross_entropy(model(X), y))
    assert insp.nan_report.endswith("; it ran in module 1 (Log)")
    insp.end_epoch()
    # only the training step's forward counts: the anomaly-mode rerun added nothing
    h = X.data @ model[0].weight.data.T + model[0].bias.data
    assert insp.history["act_mean"]["0"][0] == pytest.approx(h.mean(), rel=1e-5)
    insp.close()


def test_warnings_go_through_the_warnings_module_by_default():
    X, y = _data()
    model = nn.Sequential(nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 2))
    with cr.no_grad():
        model[0].bias.fill_(-50.0)
    insp = Inspector(model)
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    insp.step(loss)
    with pytest.warns(InspectorWarning) as caught:
        insp.end_epoch()
    texts = sorted(str(w.message) for w in caught)
    assert texts[0].startswith("dead ReLUs in layer 0 (Linear 4→2)")  # every unit is off...
    assert texts[1].startswith("vanishing gradients in layer 0 (Linear 4→2): its gradient is "
                               "exactly zero")
    with pytest.raises(ValueError, match="no layer"):
        Inspector(nn.ReLU())


def test_functional_activations_are_seen():
    # relu written in forward (F.relu, .relu()), not as a module: the statistics are of
    # the relu's outputs, and dead units are counted
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 6)
            self.fc2 = nn.Linear(6, 6)
            self.out = nn.Linear(6, 2)

        def forward(self, x):
            return self.out(self.fc2(F.relu(self.fc1(x))).tanh())

    X, y = _data()
    cr.manual_seed(1)
    net = Net()
    with cr.no_grad():
        net.fc1.bias[:3] = -100.0  # three units never on
    msgs = []
    insp = Inspector(net, on_warning=msgs.append)
    loss = F.cross_entropy(net(X), y)
    loss.backward()
    insp.step(loss)
    insp.end_epoch()
    h = np.maximum(X.data @ net.fc1.weight.data.T + net.fc1.bias.data, 0)
    assert insp.history["act_mean"]["fc1"][0] == pytest.approx(h.mean(), rel=1e-5)
    assert insp.history["dead_frac"]["fc1"][0] == pytest.approx(0.5)
    t = np.tanh(h @ net.fc2.weight.data.T + net.fc2.bias.data)
    assert insp.history["act_mean"]["fc2"][0] == pytest.approx(t.mean(), rel=1e-5)
    assert insp.activation == {"fc1": "relu (in forward)", "fc2": "tanh (in forward)",
                               "out": "own outputs"}
    assert msgs == []
    insp.close()


def test_hidden_layers_without_an_activation_are_pointed_out():
    X, y = _data()
    model = nn.Sequential(nn.Linear(4, 5), nn.Linear(5, 2))  # no activation at all
    msgs = []
    insp = Inspector(model, on_warning=msgs.append)
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    insp.step(loss)
    insp.end_epoch()
    assert msgs == ["no activation found after layer 0 (Linear 4→5): their activation "
                    "statistics are their own outputs (the inspector sees activation modules "
                    "such as nn.ReLU and relu/tanh/sigmoid applied to a layer's output in "
                    "forward)"]
    insp.close()


def test_resume_from_a_state_goes_on_with_the_first_epoch_as_reference():
    import json

    def saturate(ep, model):
        if ep == 1:
            with cr.no_grad():
                model[0].weight.mul_(1e6)
                model[0].bias.fill_(1e6)

    cr.manual_seed(4)
    model = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 2))
    insp, msgs = _train(model, 1)
    state = json.loads(json.dumps(insp.state()))  # what inspect.json holds
    assert state["epoch"] == [1] and msgs == []
    X, y = _data()
    saturate(1, model)
    msgs = []
    resumed = Inspector(model, on_warning=msgs.append, resume=state)
    resumed.start_at(2)
    model.zero_grad()
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    resumed.step(loss)
    resumed.end_epoch()
    resumed.close()
    assert resumed.history["epoch"] == [1, 2]
    assert resumed.history["grad_norm"]["0"][0] == state["grad_norm"]["0"][0]
    # against epoch 1 of the original run, the gradient vanished
    assert any(m.startswith("vanishing gradients in layer 0 (Linear 4→8)") and "epoch 2" in m
               for m in msgs)
