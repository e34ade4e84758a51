"""Module, Parameter and containers: registration, traversal, state_dict round trips and
loading errors, repr (compared with torch's text where torch is installed), modes, hooks,
conversion."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.fc2 = nn.Linear(3, 2, bias=False)
        self.register_buffer("scale", cr.ones(2))
        self.register_buffer("cache", cr.zeros(1), persistent=False)

    def forward(self, x):
        return self.fc2(self.bn(self.fc1(x)).relu()) * self.scale


# ----------------------------------------------------------------------- Parameter


def test_parameter_shares_memory_and_prints_like_torch():
    t = cr.zeros(2)
    p = nn.Parameter(t)
    assert isinstance(p, cr.Tensor) and p.requires_grad and p.is_leaf
    with cr.no_grad():
        p.add_(1.0)
    assert t.tolist() == [1.0, 1.0]  # same memory
    assert repr(p) == "Parameter containing:\ntensor([1., 1.], requires_grad=True)"
    assert not nn.Parameter(cr.zeros(1), requires_grad=False).requires_grad
    assert tuple(nn.Parameter().shape) == (0,)
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(cr.tensor([1, 2]))


def test_parameter_deepcopy_is_a_parameter_with_its_own_memory():
    p = nn.Parameter(cr.ones(2))
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad
    with cr.no_grad():
        q.mul_(3.0)
    assert p.tolist() == [1.0, 1.0] and q.tolist() == [3.0, 3.0]


# ----------------------------------------------------------------------- registration


def test_registration_by_assignment_and_traversal():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight"]
    assert [n for n, _ in net.named_buffers()] == [
        "scale", "cache", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["fc1", "bn", "fc2"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "bn", "fc2"]
    assert [n for n, _ in net.named_parameters(prefix="model", recurse=False)] == []
    assert len(list(net.parameters())) == 5 and len(list(net.modules())) == 4
    assert net.fc2.bias is None and "bias" in net.fc2._parameters
    assert net.get_submodule("bn") is net.bn
    assert net.get_parameter("fc1.bias") is net.fc1.bias
    assert net.get_buffer("bn.running_var") is net.bn.running_var
    assert "fc1" in dir(net) and "scale" in dir(net)


def test_reassignment_and_deletion():
    net = Net()
    net.fc1 = nn.Identity()  # a module replaces a module
    assert isinstance(net._modules["fc1"], nn.Identity)
    net.scale = cr.full((2,), 2.0)  # a tensor replaces a buffer
    assert net._buffers["scale"].tolist() == [2.0, 2.0]
    net.extra = nn.Parameter(cr.zeros(1))
    assert "extra" in dict(net.named_parameters())
    del net.extra
    assert "extra" not in dict(net.named_parameters())
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'missing'"):
        _ = net.missing
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        net.fc2.weight = cr.zeros(2, 3)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module"):
        net.bn = 3
    with pytest.raises(KeyError, match="attribute 'training' already exists"):
        net.register_buffer("training", cr.zeros(1))


def test_assignment_before_init_is_an_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(cr.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


def test_shared_parameters_are_listed_once():
    a = nn.Linear(2, 2)
    seq = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_forward_is_required():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(cr.zeros(1))


# ----------------------------------------------------------------------- state dict


def test_state_dict_keys_detached_shared_memory():
    net = Net()
    sd = net.state_dict()
    # torch's order: own parameters, own persistent buffers, then each child's
    assert list(sd) == ["scale", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias",
                        "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
                        "fc2.weight"]
    w = sd["fc1.weight"]
    assert not w.requires_grad and type(w) is cr.Tensor
    with cr.no_grad():
        net.fc1.weight.mul_(0.0)
    assert (w.numpy() == 0).all()  # shares memory with the parameter
    assert net.state_dict(keep_vars=True)["fc1.weight"] is net.fc1.weight


def test_state_dict_round_trip():
    cr.manual_seed(0)
    a, b = Net(), Net()
    x = cr.randn(5, 4)
    a.train()
    a(x)  # moves the running statistics
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    assert b.bn.num_batches_tracked.item() == 1
    # copied, not shared
    with cr.no_grad():
        a.fc1.weight.zero_()
    assert not (b.fc1.weight.detach().numpy() == 0).all()


def test_load_state_dict_strict_errors_and_nothing_changes():
    net = Net()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    sd = {k: v.clone() + 1 for k, v in Net().state_dict().items()}
    del sd["fc2.weight"]
    sd["fc3.weight"] = cr.zeros(1)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(sd)
    msg = str(err.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:\n\t")
    assert 'Missing key(s) in state_dict: "fc2.weight".' in msg
    assert 'Unexpected key(s) in state_dict: "fc3.weight".' in msg
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])  # nothing was copied
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc2.weight"] and result.unexpected_keys == ["fc3.weight"]
    np.testing.assert_array_equal(net.fc1.bias.detach().numpy(), sd["fc1.bias"].numpy())


def test_load_state_dict_shape_mismatch_names_key_and_shapes():
    net = Net()
    before = net.fc1.bias.detach().numpy().copy()
    sd = net.state_dict()
    sd = {k: v.clone() for k, v in sd.items()}
    sd["fc1.bias"] = cr.zeros(3)
    sd["fc1.weight"] = cr.zeros(5, 4)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for fc1.weight: copying a param "
                           r"with shape chainrule.Size\(\[5, 4\]\) from checkpoint, the shape "
                           r"in current model is chainrule.Size\(\[3, 4\]\)"):
            net.load_state_dict(sd, strict=strict)
    np.testing.assert_array_equal(net.fc1.bias.detach().numpy(), before)
    with pytest.raises(TypeError, match="dict-like"):
        net.load_state_dict([1, 2])


def test_load_state_dict_casts_dtype_and_assign_replaces():
    lin = nn.Linear(2, 2)
    sd = {"weight": cr.ones(2, 2, dtype=cr.float64), "bias": cr.zeros(2, dtype=cr.float64)}
    lin.load_state_dict(sd)
    assert lin.weight.dtype == cr.float32 and lin.weight.tolist() == [[1, 1], [1, 1]]
    w = lin.weight
    lin.load_state_dict({k: v.float() for k, v in sd.items()}, assign=True)
    assert lin.weight is not w and isinstance(lin.weight, nn.Parameter)
    assert lin.weight.requires_grad


# ----------------------------------------------------------------------- modes, grads, apply


def test_train_eval_recursive():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("yes")


def test_zero_grad_requires_grad_and_apply():
    net = nn.Linear(3, 2)
    net(cr.randn(4, 3)).sum().backward()
    assert net.weight.grad is not None
    net.zero_grad(set_to_none=False)
    assert (net.weight.grad.numpy() == 0).all()
    net.zero_grad()
    assert net.weight.grad is None
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    nn.Sequential(net, nn.ReLU()).apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Sequential"]


def test_to_dtype_keeps_parameter_objects_and_leaves_integer_buffers():
    net = Net()
    w = net.fc1.weight
    net.to(cr.float64)
    assert net.fc1.weight is w and w.dtype == cr.float64
    assert net.bn.running_mean.dtype == cr.float64
    assert net.bn.num_batches_tracked.dtype == cr.int64
    out = net.eval()(cr.randn(2, 4, dtype=cr.float64))
    assert out.dtype == cr.float64
    net.float()
    assert w.dtype == cr.float32
    with pytest.raises(TypeError, match="floating point"):
        net.to(cr.int64)
    assert net.to("cpu") is net


# ----------------------------------------------------------------------- hooks


def test_forward_hooks_and_removal():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    out = lin(cr.ones(3, 2))
    np.testing.assert_allclose(out.detach().numpy(), np.tile(lin.bias.detach().numpy() + 1,
                                                              (3, 1)), rtol=1e-6)
    assert calls == [(3, 2)]
    h1.remove()
    h2.remove()
    assert lin(cr.ones(1, 2)).shape == (1, 2) and calls == [(3, 2)]
    order = []
    lin.register_forward_hook(lambda m, a, o: order.append("b"))
    lin.register_forward_hook(lambda m, a, o: order.append("a"), prepend=True)
    with lin.register_forward_pre_hook(lambda m, a, k: (a, k), with_kwargs=True):
        lin(cr.ones(1, 2))
    assert order == ["a", "b"] and not lin._forward_pre_hooks


# ----------------------------------------------------------------------- containers


def test_sequential_indexing_slicing_append():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    head = seq[:2]
    assert type(head) is nn.Sequential and len(head) == 2 and head[0] is seq[0]
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    seq.append(nn.Sigmoid())
    assert list(seq._modules) == ["0", "1", "2", "3"]
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and isinstance(seq[1], nn.Linear)
    with pytest.raises(IndexError, match="out of range"):
        seq[5]
    x = cr.randn(4, 2)
    np.testing.assert_allclose(seq(x).detach().numpy(),
                               seq[2](seq[1](seq[0](x))).detach().numpy())
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("enc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert list(named.state_dict()) == ["enc.weight", "enc.bias"]


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    ml.append(nn.ReLU())
    assert len(ml) == 4 and len(list(ml.parameters())) == 6
    assert type(ml[1:]) is nn.ModuleList and len(ml[1:]) == 3
    ml.insert(0, nn.Tanh())
    assert isinstance(ml[0], nn.Tanh) and list(ml._modules) == [str(i) for i in range(5)]
    with pytest.raises(NotImplementedError):
        ml(cr.zeros(1))
    md = nn.ModuleDict({"a": nn.Linear(1, 2), "b": nn.ReLU()})
    md["c"] = nn.Tanh()
    assert list(md.keys()) == ["a", "b", "c"] and "a" in md and len(md) == 3
    assert list(md.state_dict()) == ["a.weight", "a.bias"]
    assert isinstance(md.pop("b"), nn.ReLU) and list(md) == ["a", "c"]


# ----------------------------------------------------------------------- repr


def test_repr_nested():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3)))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Linear(in_features=3, out_features=3, bias=True)\n"
        "  )\n"
        ")")


def _repr_cases(lib):
    nn_ = lib.nn
    return [
        nn_.Linear(3, 2, bias=False), nn_.ReLU(inplace=True), nn_.ReLU6(), nn_.Hardtanh(),
        nn_.LeakyReLU(0.2), nn_.ELU(alpha=0.5), nn_.SELU(), nn_.GELU(approximate="tanh"),
        nn_.SiLU(), nn_.Tanh(), nn_.Sigmoid(), nn_.LogSigmoid(), nn_.Softplus(beta=2.0),
        nn_.Softmax(dim=1), nn_.Softmin(dim=0), nn_.LogSoftmax(dim=-1), nn_.Dropout(0.25),
        nn_.Embedding(10, 3, padding_idx=0), nn_.Embedding(5, 2, max_norm=1.0),
        nn_.LayerNorm((4, 5), elementwise_affine=False), nn_.BatchNorm1d(4, momentum=None),
        nn_.BatchNorm2d(3, affine=False), nn_.Flatten(), nn_.Unflatten(1, (2, 5)),
        nn_.Identity(), nn_.CrossEntropyLoss(), nn_.MSELoss(), nn_.BCEWithLogitsLoss(),
        nn_.Sequential(nn_.Linear(2, 3), nn_.Sequential(nn_.Dropout(), nn_.LayerNorm(3))),
        nn_.ModuleList([nn_.Linear(1, 1), nn_.ReLU()]),
        nn_.ModuleDict({"enc": nn_.Linear(1, 2)}),
    ]


@pytest.mark.requires_torch
def test_reprs_match_torch(torch):
    for ours, theirs in zip(_repr_cases(cr), _repr_cases(torch)):
        assert repr(ours) == repr(theirs)


@pytest.mark.requires_torch
def test_state_dict_keys_match_torch(torch):
    def build(lib):
        n = lib.nn
        return n.Sequential(n.Linear(4, 3), n.BatchNorm1d(3), n.ReLU(),
                            n.ModuleDict({"emb": n.Embedding(5, 3), "ln": n.LayerNorm(3)}),
                            n.ModuleList([n.Linear(3, 3, bias=False)]))

    assert list(build(cr).state_dict()) == list(build(torch).state_dict())
