"""Train an MLP on scikit-learn's handwritten digits (shipped with scikit-learn, no download).

Run: python examples/train_digits.py
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim


class MLP(nn.Module):
    def __init__(self, in_dims, hidden, out_dims):
        super().__init__()
        self.layers = [nn.Linear(in_dims, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, out_dims)]

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = nn.relu(layer(x))
        return self.layers[-1](x)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    mx.random.seed(args.seed)
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=args.seed, stratify=y)
    x_tr, y_tr, x_te, y_te = map(mx.array, (x_tr, y_tr, x_te, y_te))

    model = MLP(x_tr.shape[1], 128, 10)
    mx.eval(model.parameters())
    optimizer = optim.Adam(learning_rate=args.lr)

    def loss_fn(model, xb, yb):
        return nn.losses.cross_entropy(model(xb), yb, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, loss_fn)

    def accuracy(xs, ys):
        return mx.mean(mx.argmax(model(xs), axis=1) == ys).item()

    rng = np.random.default_rng(args.seed)
    n = x_tr.shape[0]
    start = time.perf_counter()
    for epoch in range(args.epochs):
        perm = mx.array(rng.permutation(n).astype(np.int32))
        total = 0.0
        for i in range(0, n, args.batch_size):
            idx = perm[i : i + args.batch_size]
            loss, grads = loss_and_grad(model, x_tr[idx], y_tr[idx])
            optimizer.update(model, grads)
            mx.eval(model.parameters(), optimizer.state, loss)
            total += loss.item() * idx.shape[0]
        print(
            f"epoch {epoch + 1:3d}  loss {total / n:.4f}  train acc {accuracy(x_tr, y_tr):.3f}  "
            f"({time.perf_counter() - start:.1f}s)"
        )
    print(f"test accuracy: {accuracy(x_te, y_te):.2f}")


if __name__ == "__main__":
    main()
