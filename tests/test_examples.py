"""The example programs in examples/ run and learn.

Both run as subprocesses with small settings. scikit-learn (for the digits data) comes
with the ``test`` extra, so a missing scikit-learn is a failure, not a skip.
"""

import math
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def _env():
    # Pass on the interpreter's view of mlx (installed, or PYTHONPATH=python).
    import mlx

    env = dict(os.environ)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(mlx.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (pkg_parent, env.get("PYTHONPATH")) if p
    )
    return env


def _run(script, *args, timeout=600):
    r = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, script), *args],
        capture_output=True,
        check=False,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=timeout,
    )
    assert r.returncode == 0, f"{script} failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "eager"])
def test_transformer_lm_loss_falls_and_it_samples(compiled):
    steps = 40
    args = [
        "--steps", str(steps),
        "--log-every", "8",
        "--dims", "32",
        "--heads", "2",
        "--layers", "2",
        "--context", "32",
        "--batch-size", "16",
        "--sample-length", "40",
    ]  # fmt: skip
    if not compiled:
        args.append("--no-compile")
    out = _run("transformer_lm.py", *args)
    vocab = int(re.search(r"vocabulary of (\d+)", out).group(1))
    losses = [
        float(v) for v in re.findall(r"^step +\d+ +loss ([\d.]+)", out, re.MULTILINE)
    ]
    assert len(losses) == steps // 8, out
    assert all(math.isfinite(v) for v in losses), out
    # Starts near chance (ln V) and falls clearly below it.
    assert losses[0] < math.log(vocab) + 0.5, out
    assert losses[-1] < losses[0] - 0.3, out
    assert losses[-1] < math.log(vocab) - 0.8, out
    # Then it samples: the prompt followed by 40 generated characters.
    sample = out.split("sample:\n", 1)[1]
    assert sample.endswith("\n")
    sample = sample[:-1]  # the newline that print adds
    assert sample.startswith("It was the ")
    assert len(sample) == len("It was the ") + 40


def test_transformer_lm_rejects_bad_steps():
    r = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "transformer_lm.py"), "--steps", "0"],
        capture_output=True,
        check=False,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert r.returncode != 0 and "--steps" in r.stderr


def test_train_digits_learns():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        pytest.fail(
            "scikit-learn is not installed; it is part of the test extra: "
            'pip install ".[test]"'
        )
    out = _run("train_digits.py", "--epochs", "3")
    losses = [
        float(v) for v in re.findall(r"^epoch +\d+ +loss ([\d.]+)", out, re.MULTILINE)
    ]
    assert len(losses) == 3, out
    assert losses[-1] < losses[0], out
    acc = float(re.search(r"test accuracy: ([\d.]+)", out).group(1))
    assert acc > 0.8, out
