"""A PyTorch training script, unmodified except for its first import.

    python examples/torch_style.py

Replace the first line with ``import torch`` and it runs on PyTorch (the tests do exactly
that and compare).  A Module subclass, a DataLoader, CrossEntropyLoss, SGD with momentum and
a learning-rate schedule, and a state_dict saved and loaded.
"""

import chainrule as torch  # noqa: I001  (the one line that differs from the PyTorch script)
import os
import tempfile

import numpy as np

nn = torch.nn
DataLoader, TensorDataset = torch.utils.data.DataLoader, torch.utils.data.TensorDataset


class MLP(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    features = rng.standard_normal((512, 8))
    labels = (features[:, 0] * features[:, 1] > 0).astype(np.int64)  # XOR-like: not linear
    x = torch.tensor(features, dtype=torch.float32)
    y = torch.tensor(labels)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)

    model = MLP(8, 32, 2)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)

    for epoch in range(10):
        model.train()
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        scheduler.step()
        print(f"epoch {epoch}  loss {total / len(x):.4f}  lr {scheduler.get_last_lr()[0]:.4f}")

    model.eval()
    with torch.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
    print(f"accuracy {accuracy:.3f}")

    path = os.path.join(tempfile.mkdtemp(), "model.pt")
    torch.save(model.state_dict(), path)
    restored = MLP(8, 32, 2)
    restored.load_state_dict(torch.load(path))
    with torch.no_grad():
        same = torch.equal(restored(x), model(x))
    print(f"state_dict round trip identical: {same}")
    return accuracy, same


if __name__ == "__main__":
    main()
