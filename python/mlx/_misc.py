"""Smaller parts of mlx.core: the single-process distributed group, print options,
graph export to DOT, thread-local stream names and module registration."""

import contextlib
import sys
import types


def install(mx):
    # ---- mx.distributed: one process, every collective is the identity ----
    dist = types.ModuleType("mlx.core.distributed")

    class Group:
        """A communication group. Without a launcher this is the single-process group."""

        def rank(self):
            return 0

        def size(self):
            return 1

        def split(self, color, key=-1):
            return Group()

        def __repr__(self):
            return "Group(rank=0, size=1)"

    _world = [None]

    def init(strict=False, backend="any"):
        if _world[0] is None:
            _world[0] = Group()
        return _world[0]

    def _check(x, name):
        if not isinstance(x, mx.array):
            x = mx.array(x)
        return x

    def all_sum(x, *, group=None, stream=None):
        return mx.copy(_check(x, "all_sum")) if hasattr(mx, "copy") else _check(x, "all_sum") + 0

    def all_max(x, *, group=None, stream=None):
        return _check(x, "all_max")

    def all_min(x, *, group=None, stream=None):
        return _check(x, "all_min")

    def all_gather(x, *, group=None, stream=None):
        return _check(x, "all_gather")

    def sum_scatter(x, *, group=None, stream=None):
        return _check(x, "sum_scatter")

    def _no_peer(*args, **kwargs):
        raise ValueError("[distributed] send/recv need a peer; got a group of size 1.")

    dist.Group = Group
    dist.is_available = lambda: True
    dist.init = init
    dist.all_sum = all_sum
    dist.all_max = all_max
    dist.all_min = all_min
    dist.all_gather = all_gather
    dist.sum_scatter = sum_scatter
    dist.send = _no_peer
    dist.recv = _no_peer
    dist.recv_like = _no_peer
    mx.distributed = dist

    # ---- print options ----
    class PrintOptions:
        def __init__(self, precision=6):
            self.precision = precision

        def __repr__(self):
            return f"PrintOptions(precision={self.precision})"

    _opts = [PrintOptions()]

    def get_printoptions():
        return PrintOptions(_opts[0].precision)

    def set_printoptions(precision=None):
        if precision is not None:
            if not isinstance(precision, int) or precision < 0:
                raise ValueError(f"[set_printoptions] precision must be a non-negative int; got {precision!r}.")
            _opts[0].precision = precision

    @contextlib.contextmanager
    def printoptions(precision=None):
        old = _opts[0].precision
        set_printoptions(precision)
        try:
            yield
        finally:
            _opts[0].precision = old

    mx.PrintOptions = PrintOptions
    mx.get_printoptions = get_printoptions
    mx.set_printoptions = set_printoptions
    mx.printoptions = printoptions

    # ---- export_to_dot ----
    def export_to_dot(file, *args, **kwargs):
        """Writes the graph that produces the given arrays (or trees of arrays) in DOT format."""
        outs = []

        def collect(t):
            if isinstance(t, mx.array):
                outs.append(t)
            elif isinstance(t, (list, tuple)):
                for x in t:
                    collect(x)
            elif isinstance(t, dict):
                for x in t.values():
                    collect(x)

        collect(list(args) + list(kwargs.values()))
        lines = ["digraph {", '  rankdir = "LR";']
        for nid, name, ins, shape, dtype, done in mx._graph_nodes(outs):
            label = f"{name}\\n{shape} {dtype}" if name else f"{shape} {dtype}"
            shape_attr = "box" if name else "oval"
            lines.append(f'  n{nid} [label="{label}", shape={shape_attr}];')
            for i in ins:
                lines.append(f"  n{i} -> n{nid};")
        lines.append("}")
        text = "\n".join(lines) + "\n"
        if hasattr(file, "write"):
            file.write(text)
        else:
            with open(file, "w") as f:
                f.write(text)

    mx.export_to_dot = export_to_dot

    # ---- streams: MLX's thread-local names map to ordinary streams here ----
    mx.new_thread_local_stream = mx.new_stream
    mx.new_thread_unsafe_stream = mx.new_stream
    mx.ThreadLocalStream = mx.Stream
    mx.clear_streams = lambda: None

    def from_dlpack(x):
        """Array from an object implementing __dlpack__ (copies the data)."""
        try:
            import numpy as np
        except ImportError as e:  # pragma: no cover
            raise ValueError("[from_dlpack] needs NumPy to read DLPack capsules; got no NumPy.") from e
        return mx.array(np.from_dlpack(x))

    mx.from_dlpack = from_dlpack
    mx.ArrayLike = object
    mx.__version__ = "0.1.0"

    for name in ("metal", "cuda", "distributed", "random", "linalg", "fft", "fast"):
        mod = getattr(mx, name, None)
        if mod is not None:
            sys.modules.setdefault(f"mlx.core.{name}", mod)
