"""Train a tiny two-layer network with nothing but tensors and ``backward()``.

    python examples/tiny_net.py

The forward pass records the graph; ``loss.backward()`` applies the chain rule from the
loss back to every weight; the update is plain gradient descent.
"""

import chainrule as cr

cr.manual_seed(0)
# two interleaved classes on a circle: not linearly separable
x = cr.randn(200, 2)
y = ((x * x).sum(1) > 1.0).float().unsqueeze(1)

w1 = (cr.randn(2, 16) * 0.5).requires_grad_()
b1 = cr.zeros(16, requires_grad=True)
w2 = (cr.randn(16, 1) * 0.5).requires_grad_()
b2 = cr.zeros(1, requires_grad=True)
params = [w1, b1, w2, b2]

lr = 0.5
for step in range(301):
    p = ((x @ w1 + b1).tanh() @ w2 + b2).sigmoid()  # forward: the graph is recorded
    loss = -(y * p.log() + (1 - y) * (1 - p).log()).mean()  # binary cross-entropy
    for w in params:
        w.grad = None
    loss.backward()  # backward: dL/dw for every w, by the chain rule
    with cr.no_grad():  # gradient descent: w <- w - lr * dL/dw
        for w in params:
            w -= lr * w.grad
    if step % 50 == 0:
        acc = ((p > 0.5).float() == y).float().mean().item()
        print(f"step {step:3d}  loss {loss.item():.4f}  accuracy {acc:.2%}")
