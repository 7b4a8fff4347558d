"""The documentation builds with warnings as errors, and the user guide's code runs.

Sphinx comes with the ``test`` extra (``pip install ".[test]"``), so a missing Sphinx is
a failure, not a skip.
"""

import os
import re
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
GUIDE = os.path.join(DOCS, "usage")


def _env():
    # The docs import mlx: pass on the interpreter's view of it (an installed package,
    # or PYTHONPATH=python in a source tree).
    import mlx

    env = dict(os.environ)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(mlx.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (pkg_parent, env.get("PYTHONPATH")) if p
    )
    return env


def _require_sphinx():
    try:
        import sphinx  # noqa: F401
    except ImportError:
        pytest.fail(
            "sphinx is not installed; it is part of the test extra: "
            'pip install ".[test]"'
        )


def test_sphinx_build_without_warnings(tmp_path):
    _require_sphinx()
    out = tmp_path / "html"
    start = time.perf_counter()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            DOCS,
            str(out),
        ],
        capture_output=True,
        check=False,
        text=True,
        env=_env(),
        cwd=str(tmp_path),
        timeout=600,
    )
    elapsed = time.perf_counter() - start
    assert r.returncode == 0, f"sphinx-build failed:\n{r.stdout}\n{r.stderr}"
    assert not r.stderr.strip(), r.stderr

    # The guide and the API reference are there, with content from the docstrings.
    for page in (
        "index.html",
        "usage/quick_start.html",
        "usage/lazy_evaluation.html",
        "usage/unified_memory.html",
        "usage/function_transforms.html",
        "usage/training.html",
        "usage/saving_and_loading.html",
        "usage/cpp.html",
        "python/ops.html",
        "python/nn.html",
        "python/optimizers.html",
        "python/utils.html",
    ):
        assert (out / page).is_file(), page
    ops = (out / "python" / "ops.html").read_text()
    for name in ("mlx.core.matmul", "mlx.core.sum", "mlx.core.acos"):
        assert f'id="{name}"' in ops, name
    transforms = (out / "python" / "transforms.html").read_text()
    for name in ("grad", "vmap", "compile", "custom_function", "checkpoint"):
        assert f'id="mlx.core.{name}"' in transforms, name
    nn_page = (out / "python" / "nn.html").read_text()
    for name in (
        "mlx.nn.Linear",
        "mlx.nn.Module.save_weights",
        "mlx.nn.value_and_grad",
    ):
        assert f'id="{name}"' in nn_page, name
    opt = (out / "python" / "optimizers.html").read_text()
    assert 'id="mlx.optimizers.AdamW"' in opt
    utils = (out / "python" / "utils.html").read_text()
    assert 'id="mlx.utils.tree_flatten"' in utils
    # docs/dev/ design notes are offered for download.
    assert any(p.name == "architecture.md" for p in (out / "_downloads").rglob("*"))
    # Loose bound (the build takes ~15 s on two idle cores); catches a runaway build.
    assert elapsed < 300, f"the docs build took {elapsed:.0f} s"


def _code_blocks(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    blocks = re.finditer(
        r"^\.\. code-block:: python\n\n((?:(?: {3}.*)?\n)+)", text, re.MULTILINE
    )
    return ["\n".join(line[3:] for line in m.group(1).splitlines()) for m in blocks]


GUIDE_PAGES = sorted(f for f in os.listdir(GUIDE) if f.endswith(".rst"))


@pytest.mark.parametrize("page", GUIDE_PAGES)
def test_guide_code_runs(page, tmp_path):
    """Each page's Python blocks run in order, in one namespace (as a reader would)."""
    blocks = _code_blocks(os.path.join(GUIDE, page))
    if not blocks:
        return
    # The unified-memory page shows GPU code that only runs where a GPU exists; its
    # first block is illustrative. Every other block must run here.
    if page == "unified_memory.rst":
        assert "mx.gpu" in blocks[0]
        blocks = blocks[1:]
    script = "import mlx.core as mx\nmx.random.seed(0)\n" + "\n\n".join(blocks)
    (tmp_path / "guide.py").write_text(script)
    r = subprocess.run(
        [sys.executable, "guide.py"],
        capture_output=True,
        check=False,
        text=True,
        env=_env(),
        cwd=str(tmp_path),
        timeout=300,
    )
    assert r.returncode == 0, f"{page}:\n{r.stdout}\n{r.stderr}"
