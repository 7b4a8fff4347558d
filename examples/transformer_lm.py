"""Train a small causal transformer language model on characters, then sample from it.

The training text is embedded below (the public-domain opening of Charles Dickens's
"A Tale of Two Cities", 1859), so nothing is downloaded. The model is a character-level
decoder-only transformer: token and position embeddings, ``nn.TransformerEncoder`` layers
with a causal mask from ``nn.MultiHeadAttention.create_additive_causal_mask``, and a
linear head. Training prints the loss as it falls, then the model writes some text.

Run: python examples/transformer_lm.py            (under a minute on two cores)
     python examples/transformer_lm.py --steps 50  (a quick check)
"""

import argparse
import math
import time

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
from mlx.utils import tree_flatten

TEXT = """\
It was the best of times, it was the worst of times, it was the age of wisdom, it was
the age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it
was the season of Light, it was the season of Darkness, it was the spring of hope, it
was the winter of despair, we had everything before us, we had nothing before us, we
were all going direct to Heaven, we were all going direct the other way - in short, the
period was so far like the present period, that some of its noisiest authorities
insisted on its being received, for good or for evil, in the superlative degree of
comparison only.

There were a king with a large jaw and a queen with a plain face, on the throne of
England; there were a king with a large jaw and a queen with a fair face, on the throne
of France. In both countries it was clearer than crystal to the lords of the State
preserves of loaves and fishes, that things in general were settled for ever.
"""


class CharLM(nn.Module):
    """A decoder-only transformer over characters."""

    def __init__(self, vocab_size, context, dims, num_heads, num_layers):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dims)
        self.positions = nn.Embedding(context, dims)
        self.transformer = nn.TransformerEncoder(
            num_layers, dims, num_heads, mlp_dims=4 * dims, norm_first=True
        )
        self.out = nn.Linear(dims, vocab_size)

    def __call__(self, tokens):
        L = tokens.shape[-1]
        mask = nn.MultiHeadAttention.create_additive_causal_mask(L)
        x = self.embedding(tokens) + self.positions(mx.arange(L))
        x = self.transformer(x, mask)
        return self.out(x)


def batches(data, context, batch_size, steps):
    """Random windows of ``context + 1`` characters: inputs and next-char targets."""
    offsets = mx.arange(context + 1)
    for _ in range(steps):
        starts = mx.random.randint(0, data.size - context - 1, (batch_size, 1))
        window = data[starts + offsets]
        yield window[:, :-1], window[:, 1:]


def generate(model, prompt_ids, length, context, temperature):
    """Sample ``length`` characters after ``prompt_ids``, one at a time."""
    ids = list(prompt_ids)
    for _ in range(length):
        x = mx.array(ids[-context:])[None]
        logits = model(x)[0, -1]
        if temperature == 0:
            nxt = mx.argmax(logits)
        else:
            nxt = mx.random.categorical(logits / temperature)
        ids.append(nxt.item())
    return ids


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="training steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--context", type=int, default=48, help="characters seen")
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--log-every", type=int, default=0, help="0: ~10 lines")
    parser.add_argument("--sample-length", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-compile", action="store_true", help="run the step without mx.compile"
    )
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be at least 1")

    mx.random.seed(args.seed)
    chars = sorted(set(TEXT))
    to_id = {c: i for i, c in enumerate(chars)}
    data = mx.array([to_id[c] for c in TEXT], dtype=mx.int32)
    print(f"{len(TEXT)} characters, vocabulary of {len(chars)}")

    model = CharLM(len(chars), args.context, args.dims, args.heads, args.layers)
    mx.eval(model.parameters())
    n_params = sum(v.size for _, v in tree_flatten(model.parameters()))
    print(f"model: {args.layers} layers, {args.dims} dims, {n_params} parameters")

    warmup = max(1, min(50, args.steps // 10))
    schedule = optim.join_schedules(
        [
            optim.linear_schedule(args.lr / warmup, args.lr, warmup),
            optim.cosine_decay(args.lr, max(1, args.steps - warmup), args.lr / 10),
        ],
        [warmup],
    )
    optimizer = optim.AdamW(learning_rate=schedule, weight_decay=0.01)

    def loss_fn(model, x, y):
        logits = model(x)
        return nn.losses.cross_entropy(logits, y, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, loss_fn)

    def step(x, y):
        loss, grads = loss_and_grad(model, x, y)
        optimizer.update(model, grads)
        return loss

    if not args.no_compile:
        # The model parameters and the optimizer state are read and updated by the
        # step: name them as the compiled function's inputs and outputs. The optimizer
        # state is created up front so that its structure is fixed before tracing.
        optimizer.init(model.trainable_parameters())
        state = [model.state, optimizer.state]
        step = mx.compile(step, inputs=state, outputs=state)

    log_every = args.log_every or max(1, args.steps // 10)
    print(f"initial loss ~ ln({len(chars)}) = {math.log(len(chars)):.3f}")
    start = time.perf_counter()
    running, count = 0.0, 0
    for it, (x, y) in enumerate(
        batches(data, args.context, args.batch_size, args.steps), start=1
    ):
        loss = step(x, y)
        mx.eval(loss, model.parameters(), optimizer.state)
        running += loss.item()
        count += 1
        if it % log_every == 0 or it == args.steps:
            print(
                f"step {it:5d}  loss {running / count:.4f}  "
                f"({time.perf_counter() - start:.1f}s)",
                flush=True,
            )
            running, count = 0.0, 0

    model.eval()
    prompt = "It was the "
    ids = generate(
        model,
        [to_id[c] for c in prompt],
        args.sample_length,
        args.context,
        args.temperature,
    )
    print("sample:")
    print("".join(chars[i] for i in ids))


if __name__ == "__main__":
    main()
