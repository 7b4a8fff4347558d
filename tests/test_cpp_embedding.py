"""Builds examples/cpp against the installed package's CMake config and runs it."""

import os
import shutil
import subprocess
import sys

import pytest

import mlx

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "cpp")


def _cmake_dir():
    out = subprocess.run([sys.executable, "-m", "mlx", "--cmake-dir"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_cmake_dir_exists():
    d = _cmake_dir()
    if not os.path.exists(os.path.join(d, "MLXConfig.cmake")):
        pytest.fail(f"MLXConfig.cmake not found in {d}; the package must be installed with pip install .")


def test_cpp_example_builds_and_runs(tmp_path):
    cmake = shutil.which("cmake")
    assert cmake, "cmake is required (it is in the [test] extra)"
    d = _cmake_dir()
    if not os.path.exists(os.path.join(d, "MLXConfig.cmake")):
        pytest.fail(f"MLXConfig.cmake not found in {d}; the package must be installed with pip install .")
    build = tmp_path / "build"
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    r = subprocess.run([cmake, "-S", EXAMPLE, "-B", str(build), f"-DMLX_DIR={d}", "-DCMAKE_BUILD_TYPE=Release", *gen],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([cmake, "--build", str(build)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    exe = build / "example"
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fit ok" in r.stdout
