"""Tests of mlx.optimizers: every update rule against NumPy over several steps."""

import math

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as opt
from mlx.utils import tree_flatten, tree_map

SHAPES = {"w": (4, 6), "b": (6,), "c": (2, 3, 4)}
STEPS = 4


def make_problem(rng, steps=STEPS):
    params = {k: rng.standard_normal(s).astype(np.float32) for k, s in SHAPES.items()}
    grads = [
        {k: rng.standard_normal(s).astype(np.float32) for k, s in SHAPES.items()}
        for _ in range(steps)
    ]
    return params, grads


def run_mlx(optimizer, params, grads):
    p = {k: mx.array(v) for k, v in params.items()}
    for g in grads:
        p = optimizer.apply_gradients({k: mx.array(v) for k, v in g.items()}, p)
        mx.eval(p)
    return {k: np.array(v) for k, v in p.items()}


def run_numpy(rule, params, grads):
    """``rule(p, g, state, t)`` returns the new parameter; t counts from 1."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    states = {k: {} for k in p}
    for t, g in enumerate(grads, start=1):
        for k in p:
            p[k] = rule(p[k], g[k].astype(np.float64), states[k], t)
    return p


def check(optimizer, rule, rng, rtol=1e-5, atol=1e-6):
    params, grads = make_problem(rng)
    got = run_mlx(optimizer, params, grads)
    want = run_numpy(rule, params, grads)
    for k in params:
        np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=atol, err_msg=k)


# --- reference update rules ------------------------------------------------------


def sgd_rule(lr, momentum=0.0, weight_decay=0.0, dampening=0.0, nesterov=False):
    def rule(p, g, s, t):
        g = g + weight_decay * p
        if momentum <= 0:
            return p - lr * g
        v = momentum * s.get("v", np.zeros_like(p)) + (1 - dampening) * g
        s["v"] = v
        update = g + momentum * v if nesterov else v
        return p - lr * update

    return rule


def rmsprop_rule(lr, alpha=0.99, eps=1e-8):
    def rule(p, g, s, t):
        v = alpha * s.get("v", 0.0) + (1 - alpha) * g**2
        s["v"] = v
        return p - lr * g / (np.sqrt(v) + eps)

    return rule


def adagrad_rule(lr, eps=1e-8):
    def rule(p, g, s, t):
        v = s.get("v", 0.0) + g**2
        s["v"] = v
        return p - lr * g / (np.sqrt(v) + eps)

    return rule


def adadelta_rule(lr, rho=0.9, eps=1e-6):
    def rule(p, g, s, t):
        v = rho * s.get("v", 0.0) + (1 - rho) * g**2
        u = s.get("u", np.zeros_like(p))
        d = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        s["u"] = rho * u + (1 - rho) * d**2
        s["v"] = v
        return p - lr * d

    return rule


def adam_rule(lr, b1=0.9, b2=0.999, eps=1e-8, bias_correction=False, wd=0.0):
    def rule(p, g, s, t):
        p = p * (1 - lr * wd)
        m = b1 * s.get("m", 0.0) + (1 - b1) * g
        v = b2 * s.get("v", 0.0) + (1 - b2) * g**2
        s["m"], s["v"] = m, v
        if bias_correction:
            m_hat = m / (1 - b1**t)
            v_hat = v / (1 - b2**t)
            return p - lr * m_hat / (np.sqrt(v_hat) + eps)
        return p - lr * m / (np.sqrt(v) + eps)

    return rule


def adamax_rule(lr, b1=0.9, b2=0.999, eps=1e-8):
    def rule(p, g, s, t):
        m = b1 * s.get("m", 0.0) + (1 - b1) * g
        v = np.maximum(b2 * s.get("v", 0.0), np.abs(g))
        s["m"], s["v"] = m, v
        return p - lr * m / (v + eps)

    return rule


def lion_rule(lr, b1=0.9, b2=0.99, wd=0.0):
    def rule(p, g, s, t):
        m = s.get("m", 0.0)
        c = b1 * m + (1 - b1) * g
        s["m"] = b2 * m + (1 - b2) * g
        return p * (1 - lr * wd) - lr * np.sign(c)

    return rule


def adafactor_rule(
    lr=None,
    eps=(1e-30, 1e-3),
    clip=1.0,
    decay=-0.8,
    beta_1=None,
    wd=0.0,
    scale_parameter=True,
    relative_step=True,
    warmup_init=False,
):
    def rms(x):
        return np.sqrt(np.mean(x**2))

    def rule(p, g, s, t):
        if relative_step:
            rel = min(1e-6 * t if warmup_init else 1e-2, 1 / math.sqrt(t))
        else:
            rel = lr
        step = max(eps[1], rms(p)) * rel if scale_parameter else rel
        beta2 = 1 - t**decay
        sq = g**2 + eps[0]
        if p.ndim >= 2:
            row = beta2 * s.get("row", 0.0) + (1 - beta2) * sq.mean(-1)
            col = beta2 * s.get("col", 0.0) + (1 - beta2) * sq.mean(-2)
            s["row"], s["col"] = row, col
            v = row[..., :, None] * col[..., None, :] / row.mean(-1)[..., None, None]
        else:
            v = beta2 * s.get("v", 0.0) + (1 - beta2) * sq
            s["v"] = v
        u = g / np.sqrt(v)
        u = u / max(1.0, rms(u) / clip)
        u = step * u
        if beta_1 is not None:
            u = beta_1 * s.get("m", 0.0) + (1 - beta_1) * u
            s["m"] = u
        if wd:
            p = p - wd * step * p
        return p - u

    return rule


# --- the update rules -------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"momentum": 0.9},
        {"momentum": 0.9, "dampening": 0.2, "weight_decay": 0.01},
        {"momentum": 0.8, "nesterov": True},
        {"weight_decay": 0.1},
    ],
    ids=["plain", "momentum", "dampening_wd", "nesterov", "wd"],
)
def test_sgd(rng, kwargs):
    check(opt.SGD(0.1, **kwargs), sgd_rule(0.1, **kwargs), rng)


def test_sgd_nesterov_validation():
    with pytest.raises(ValueError):
        opt.SGD(0.1, momentum=0.0, nesterov=True)
    with pytest.raises(ValueError):
        opt.SGD(0.1, momentum=0.9, dampening=0.1, nesterov=True)


def test_rmsprop(rng):
    check(opt.RMSprop(0.01, alpha=0.9), rmsprop_rule(0.01, alpha=0.9), rng)
    with pytest.raises(ValueError):
        opt.RMSprop(0.01, alpha=-1)


def test_adagrad(rng):
    check(opt.Adagrad(0.1), adagrad_rule(0.1), rng)


def test_adadelta(rng):
    check(opt.AdaDelta(1.0, rho=0.8), adadelta_rule(1.0, rho=0.8), rng)


@pytest.mark.parametrize("bias_correction", [False, True])
def test_adam(rng, bias_correction):
    check(
        opt.Adam(0.01, betas=[0.8, 0.95], bias_correction=bias_correction),
        adam_rule(0.01, 0.8, 0.95, bias_correction=bias_correction),
        rng,
    )


@pytest.mark.parametrize("bias_correction", [False, True])
def test_adamw(rng, bias_correction):
    check(
        opt.AdamW(0.01, weight_decay=0.1, bias_correction=bias_correction),
        adam_rule(0.01, bias_correction=bias_correction, wd=0.1),
        rng,
    )


def test_adamax(rng):
    check(opt.Adamax(0.01), adamax_rule(0.01), rng)


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_lion(rng, wd):
    check(opt.Lion(0.01, weight_decay=wd), lion_rule(0.01, wd=wd), rng)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"warmup_init": True},
        {
            "learning_rate": 0.01,
            "relative_step": False,
            "beta_1": 0.9,
            "weight_decay": 0.1,
            "scale_parameter": False,
        },
        {"beta_1": 0.5, "clip_threshold": 0.5},
    ],
    ids=["default", "warmup", "fixed_lr", "momentum_clip"],
)
def test_adafactor(rng, kwargs):
    ref = dict(kwargs)
    mapping = {
        "learning_rate": "lr",
        "weight_decay": "wd",
        "clip_threshold": "clip",
    }
    ref = {mapping.get(k, k): v for k, v in ref.items()}
    check(opt.Adafactor(**kwargs), adafactor_rule(**ref), rng, rtol=1e-4, atol=1e-6)


def test_adafactor_requires_lr_without_relative_step():
    with pytest.raises(ValueError):
        opt.Adafactor(relative_step=False)


def newton_schulz(x, steps):
    a, b, c = 3.4445, -4.7750, 2.0315
    transpose = x.shape[0] > x.shape[1]
    if transpose:
        x = x.T
    x = x / (np.linalg.norm(x) + 1e-7)
    for _ in range(steps):
        A = x @ x.T
        x = a * x + (b * A + c * A @ A) @ x
    return x.T if transpose else x


def muon_rule(lr, momentum=0.95, wd=0.01, nesterov=True, ns_steps=5):
    def rule(p, g, s, t):
        g = g + wd * p
        v = momentum * s.get("v", 0.0) + (1 - momentum) * g
        s["v"] = v
        u = g * (1 - momentum) + v * momentum if nesterov else v
        step = lr
        if u.ndim >= 2:
            flat = u.reshape(u.shape[0], -1)
            flat = newton_schulz(flat, ns_steps)
            step = lr * math.sqrt(max(1.0, flat.shape[0] / flat.shape[1]))
            u = flat.reshape(u.shape)
        return p - step * u

    return rule


@pytest.mark.parametrize("nesterov", [True, False])
def test_muon(rng, nesterov):
    # The orthogonalization runs in bfloat16, hence the loose tolerance.
    check(
        opt.Muon(0.02, nesterov=nesterov),
        muon_rule(0.02, nesterov=nesterov),
        rng,
        rtol=0,
        atol=5e-3,
    )


def test_muon_orthogonalizes():
    g = np.random.default_rng(3).standard_normal((8, 16)).astype(np.float32)
    o = np.array(opt.Muon._orthogonalize(mx.array(g), 5).astype(mx.float32))
    s = np.linalg.svd(o, compute_uv=False)
    # Newton-Schulz with these coefficients lands singular values near [0.7, 1.2].
    assert s.min() > 0.5 and s.max() < 1.3


# --- schedules --------------------------------------------------------------------


def values(schedule, steps):
    return np.array([float(schedule(mx.array(t, mx.uint64))) for t in steps])


def test_exponential_decay():
    steps = range(6)
    np.testing.assert_allclose(
        values(opt.exponential_decay(0.1, 0.9), steps),
        [0.1 * 0.9**t for t in steps],
        rtol=1e-6,
    )


def test_step_decay():
    steps = range(12)
    np.testing.assert_allclose(
        values(opt.step_decay(0.1, 0.5, 4), steps),
        [0.1 * 0.5 ** (t // 4) for t in steps],
        rtol=1e-6,
    )


def test_cosine_decay():
    steps = range(15)
    want = [
        0.01 + 0.5 * (1 + math.cos(math.pi * min(t, 10) / 10)) * (0.1 - 0.01)
        for t in steps
    ]
    np.testing.assert_allclose(
        values(opt.cosine_decay(0.1, 10, 0.01), steps), want, rtol=1e-5, atol=1e-7
    )


def test_linear_schedule():
    steps = range(8)
    want = [0.0 + min(t, 5) * (0.1 - 0.0) / 5 for t in steps]
    np.testing.assert_allclose(
        values(opt.linear_schedule(0.0, 0.1, 5), steps), want, rtol=1e-6, atol=1e-8
    )
    with pytest.raises(ValueError):
        opt.linear_schedule(0.0, 0.1, 0)


def test_join_schedules():
    warmup = opt.linear_schedule(0.0, 0.1, 4)
    decay = opt.exponential_decay(0.1, 0.5)
    schedule = opt.join_schedules([warmup, decay], [4])
    steps = range(8)
    want = [t * 0.1 / 4 if t < 4 else 0.1 * 0.5 ** (t - 4) for t in steps]
    np.testing.assert_allclose(values(schedule, steps), want, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError):
        opt.join_schedules([warmup, decay], [])


def test_scheduled_learning_rate_drives_updates(rng):
    schedule = opt.step_decay(0.1, 0.5, 2)
    o = opt.SGD(learning_rate=schedule)
    assert float(o.learning_rate) == pytest.approx(0.1)
    params, grads = make_problem(rng, steps=5)
    got = run_mlx(o, params, grads)
    want = {k: v.astype(np.float64) for k, v in params.items()}
    for t, g in enumerate(grads):
        for k in want:
            want[k] = want[k] - 0.1 * 0.5 ** (t // 2) * g[k]
    for k in params:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6)
    assert int(o.step) == 5
    # The rate in the state is the one used by the last update (step 4).
    assert float(o.learning_rate) == pytest.approx(0.1 * 0.25)


def test_learning_rate_setter_and_state():
    o = opt.Adam(1e-3)
    assert o.state["step"].dtype == mx.uint64
    assert int(o.step) == 0
    o.learning_rate = 0.5
    assert float(o.learning_rate) == pytest.approx(0.5)
    o.init({"w": mx.zeros((2, 2)), "l": [mx.zeros(3)]})
    assert set(o.state["w"]) == {"m", "v"}
    assert o.state["l"][0]["m"].shape == (3,)


def test_state_survives_reinit():
    o = opt.SGD(0.1, momentum=0.9)
    p = {"w": mx.ones((3,))}
    g = {"w": mx.ones((3,))}
    p = o.apply_gradients(g, p)
    v = np.array(o.state["w"]["v"])
    o.init(p)
    np.testing.assert_array_equal(np.array(o.state["w"]["v"]), v)


# --- clip_grad_norm ------------------------------------------------------------


def test_clip_grad_norm(rng):
    grads = {
        "a": mx.array(rng.standard_normal((3, 4)).astype(np.float32)),
        "b": [mx.array(rng.standard_normal((5,)).astype(np.float32))],
    }
    flat = np.concatenate([np.array(v).ravel() for _, v in tree_flatten(grads)])
    norm = np.linalg.norm(flat)

    clipped, total = opt.clip_grad_norm(grads, max_norm=norm / 2)
    assert float(total) == pytest.approx(norm, rel=1e-5)
    scale = (norm / 2) / (norm + 1e-6)
    np.testing.assert_allclose(
        np.array(clipped["a"]), np.array(grads["a"]) * scale, rtol=1e-5
    )
    new = np.concatenate([np.array(v).ravel() for _, v in tree_flatten(clipped)])
    assert np.linalg.norm(new) == pytest.approx(norm / 2, rel=1e-4)

    same, _ = opt.clip_grad_norm(grads, max_norm=norm * 2)
    np.testing.assert_array_equal(np.array(same["b"][0]), np.array(grads["b"][0]))


# --- structure checks, update(model), MultiOptimizer ------------------------------


def test_mismatched_gradients_raise_with_location():
    params = {"w": mx.zeros((2, 3)), "layers": [{"b": mx.zeros(2)}]}
    o = opt.Adam(0.1)
    with pytest.raises(ValueError, match=r"\[Adam\].*'c'.*got"):
        o.apply_gradients({"w": mx.zeros((2, 3)), "c": mx.zeros(2)}, params)
    with pytest.raises(ValueError, match=r"\[Adam\].*'w'.*got gradient.shape=\(3,\)"):
        opt.Adam(0.1).apply_gradients({"w": mx.zeros((3,))}, params)
    with pytest.raises(ValueError, match=r"\[SGD\].*'layers'.*got 2 gradients"):
        opt.SGD(0.1).apply_gradients(
            {"layers": [{"b": mx.zeros(2)}, {"b": mx.zeros(2)}]}, params
        )
    with pytest.raises(ValueError, match=r"\[SGD\].*'layers.0.b'.*got"):
        opt.SGD(0.1).apply_gradients({"layers": [{"b": {"x": mx.zeros(2)}}]}, params)


def test_gradients_may_cover_part_of_the_parameters():
    params = {"w": mx.ones((2,)), "frozen": mx.ones((2,))}
    out = opt.SGD(1.0).apply_gradients({"w": mx.ones((2,))}, params)
    assert set(out) == {"w"}
    np.testing.assert_array_equal(np.array(out["w"]), [0.0, 0.0])


def test_update_model_in_place():
    model = nn.Linear(3, 2)
    before = {k: np.array(v) for k, v in tree_flatten(model.parameters())}
    grads = tree_map(mx.ones_like, model.trainable_parameters())
    opt.SGD(0.5).update(model, grads)
    for k, v in tree_flatten(model.parameters()):
        np.testing.assert_allclose(np.array(v), before[k] - 0.5)


def test_multi_optimizer(rng):
    params, grads = make_problem(rng)
    multi = opt.MultiOptimizer(
        [opt.SGD(0.1), opt.Adam(0.01)], [lambda path, g: path.startswith("w")]
    )
    got = run_mlx(multi, params, grads)
    sgd = run_numpy(sgd_rule(0.1), params, grads)
    adam = run_numpy(adam_rule(0.01), params, grads)
    np.testing.assert_allclose(got["w"], sgd["w"], rtol=1e-5, atol=1e-6)
    for k in ("b", "c"):
        np.testing.assert_allclose(got[k], adam[k], rtol=1e-5, atol=1e-6)
    states = multi.state["states"]
    assert len(states) == 2
    assert "w" in states[0] and "w" not in states[1]
    assert float(multi.learning_rate) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        opt.MultiOptimizer([opt.SGD(0.1), opt.Adam(0.1)], [])


def test_multi_optimizer_with_lists():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    multi = opt.MultiOptimizer(
        [opt.SGD(0.0), opt.SGD(1.0)], [lambda path, g: path.startswith("layers.0")]
    )
    before = {k: np.array(v) for k, v in tree_flatten(model.parameters())}
    grads = tree_map(mx.ones_like, model.trainable_parameters())
    multi.update(model, grads)
    after = dict(tree_flatten(model.parameters()))
    np.testing.assert_array_equal(
        np.array(after["layers.0.weight"]), before["layers.0.weight"]
    )
    np.testing.assert_allclose(
        np.array(after["layers.2.weight"]), before["layers.2.weight"] - 1.0
    )


def test_optimizer_keeps_dtype():
    p = {"w": mx.ones((4,), dtype=mx.bfloat16)}
    g = {"w": mx.ones((4,), dtype=mx.bfloat16)}
    for o in [opt.SGD(0.1), opt.Adam(0.1), opt.AdamW(0.1), opt.Lion(0.1)]:
        assert o.apply_gradients(g, p)["w"].dtype == mx.bfloat16


def test_state_save_load_round_trip(tmp_path, rng):
    from mlx.utils import tree_unflatten

    params, grads = make_problem(rng, steps=4)
    a = opt.Adam(0.01, bias_correction=True)
    p = {k: mx.array(v) for k, v in params.items()}
    for g in grads[:2]:
        p = a.apply_gradients({k: mx.array(v) for k, v in g.items()}, p)
    path = str(tmp_path / "state.safetensors")
    mx.save_safetensors(path, dict(tree_flatten(a.state)))

    b = opt.Adam(0.01, bias_correction=True)
    b.state = tree_unflatten(list(mx.load(path).items()))
    assert int(b.step) == 2
    pa, pb = p, p
    for g in grads[2:]:
        g = {k: mx.array(v) for k, v in g.items()}
        pa = a.apply_gradients(g, pa)
        pb = b.apply_gradients(g, pb)
    for k in params:
        np.testing.assert_array_equal(np.array(pa[k]), np.array(pb[k]))


def test_compiled_training_step():
    from functools import partial

    mx.random.seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
    o = opt.AdamW(opt.linear_schedule(1e-2, 1e-3, 50))
    o.init(model.trainable_parameters())
    state = [model.state, o.state]
    x = mx.random.normal((32, 2))
    y = x[:, :1] * 2 - x[:, 1:]

    def loss_fn(x, y):
        return nn.losses.mse_loss(model(x), y)

    @partial(mx.compile, inputs=state, outputs=state)
    def step(x, y):
        loss, grads = nn.value_and_grad(model, loss_fn)(x, y)
        o.update(model, grads)
        return loss

    first = step(x, y).item()
    for _ in range(100):
        loss = step(x, y)
        mx.eval(state)
    assert int(o.step) == 101
    assert loss.item() < first / 20
