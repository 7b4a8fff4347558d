"""An array framework for machine learning with the MLX API."""

import ctypes as _ctypes
import os as _os


def _preload_openblas():
    # libmlx links libscipy_openblas.so; load it globally so the loader finds it
    # wherever the scipy-openblas32 wheel was installed.
    try:
        import scipy_openblas32 as _ob
    except ImportError:
        return
    lib = _os.path.join(_ob.get_lib_dir(), "libscipy_openblas.so")
    if _os.path.exists(lib):
        _ctypes.CDLL(lib, mode=_ctypes.RTLD_GLOBAL)


_preload_openblas()

from mlx import core  # noqa: E402
from mlx import _core_extras  # noqa: E402

_core_extras.install(core)

__version__ = "0.1.0"
