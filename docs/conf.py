"""Sphinx configuration for the mlx documentation.

Build: sphinx-build -W -b html docs /tmp/mlx-docs   (warnings are errors)

The API reference imports ``mlx``: use an installed package, or run from a source tree
with ``PYTHONPATH=python`` after building the extension.
"""

import importlib
import os
import re
import sys

import mlx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _summaries import SUMMARIES

project = "mlx"
author = "mlx contributors"
copyright = "mlx contributors"
version = release = mlx.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]

root_doc = "index"
source_suffix = {".rst": "restructuredtext"}
# docs/dev/ holds Markdown design notes for contributors; they are offered as downloads
# from dev_notes.rst rather than parsed.
exclude_patterns = ["_build", "dev", "Thumbs.db", ".DS_Store"]
templates_path = []

html_theme = "alabaster"
html_title = f"mlx {release}"
html_static_path = []
html_theme_options = {
    "description": "Lazy arrays, composable function transforms and the MLX API",
    "fixed_sidebar": True,
    "page_width": "1180px",
    "sidebar_width": "250px",
    "body_max_width": "none",
}

# --- autodoc --------------------------------------------------------------------------
autosummary_generate = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# nanobind functions carry their signature as the first docstring line.
autodoc_docstring_signature = True
autodoc_default_options = {"undoc-members": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
add_module_names = False
# Type hints name classes that have no page of their own (nanobind's, typing's).
nitpicky = False


_NB_SIG = re.compile(r"^\s*([A-Za-z_][\w.]*)\((.*)\)(?:\s*->\s*(.+?))?\s*$")


_SELF_SIG = re.compile(r"^\s*\(self\)(\s*->\s*.+)?\s*$")


def _is_nanobind(obj):
    if isinstance(obj, property):
        obj = obj.fget
    return type(obj).__name__ in ("nb_func", "nb_method")


def _process_docstring(app, what, name, obj, options, lines):
    """Tidy docstrings of ``mlx.core`` objects made by nanobind.

    nanobind writes one ``name(...) -> ...`` line per overload at the top of a
    docstring (``(self) -> type`` for a property). autodoc turns the first into the
    signature when ``name`` matches, but not for aliases (``acos`` is ``arccos``), for
    further overloads, for properties, or where autosummary takes the object for data.
    Such lines are dropped here (before napoleon reads the docstring); an object left
    with no text at all gets its one-line description from ``_summaries.py``.
    """
    if not name.startswith("mlx.core."):
        return
    if _is_nanobind(obj):
        lines[:] = [
            ln for ln in lines if not (_NB_SIG.match(ln) or _SELF_SIG.match(ln))
        ]
    while lines and not lines[0].strip():
        del lines[0]
    if not lines:
        summary = SUMMARIES.get(name[len("mlx.core.") :])
        if summary:
            lines[:] = [summary, ""]


def _process_signature(app, what, name, obj, options, signature, return_annotation):
    """Shorten nanobind signatures of ``mlx.core``: no ``self``, no ``mlx.core.``."""
    if not name.startswith("mlx.core.") or not signature:
        return None
    sig = re.sub(r"^\(self(, )?", "(", signature)
    sig = sig.replace("mlx.core.", "")
    ret = (return_annotation or "").replace("mlx.core.", "")
    return sig, ret


_AUTOFUNCTION = re.compile(r"^\.\. autofunction:: ([\w.]+)[ \t]*$", re.MULTILINE)


def _alias_signatures(app, docname, source):
    """Give ``.. autofunction::`` of nanobind aliases the signature of their target.

    autodoc reads a signature from a docstring only when the name in it matches, so
    ``acos`` (the same function as ``arccos``) would otherwise show no arguments.
    """
    if not docname.startswith("python/"):
        return
    text = source[0]
    module = re.search(r"^\.\. currentmodule:: ([\w.]+)", text, re.MULTILINE)
    if not module or not module.group(1).startswith("mlx.core"):
        return
    mod = importlib.import_module(module.group(1))

    def fix(m):
        obj = getattr(mod, m.group(1), None)
        if obj is None or not _is_nanobind(obj):
            return m.group(0)
        first = (obj.__doc__ or "").strip().split("\n", 1)[0]
        sig = _NB_SIG.match(first)
        if not sig or sig.group(1) == m.group(1):
            return m.group(0)
        ret = f" -> {sig.group(3)}" if sig.group(3) else ""
        return f".. autofunction:: {m.group(1)}({sig.group(2)}){ret}"

    source[0] = _AUTOFUNCTION.sub(fix, text)


def _dev_notes(app, docname, source):
    """List every Markdown note in docs/dev/ (with its title) on the dev_notes page."""
    if docname != "dev_notes":
        return
    here = os.path.dirname(os.path.abspath(__file__))
    items = []
    for fname in sorted(os.listdir(os.path.join(here, "dev"))):
        if not fname.endswith(".md"):
            continue
        with open(os.path.join(here, "dev", fname), encoding="utf-8") as f:
            title = next((ln.strip("# \n") for ln in f if ln.startswith("#")), "")
        items.append(f"* :download:`{fname} <dev/{fname}>`: {title}")
    source[0] = source[0].replace("DEV_NOTES_LIST", "\n".join(items))


_DOCUMENTED = re.compile(
    r"^\.\. (?:auto(?:function|class|property|method|data)|data|function|class)::"
    r" ([\w.]+)",
    re.MULTILINE,
)


def _other_functions(app, docname, source):
    """Replace ``MLX_OTHER_FUNCTIONS`` with the module's callables that no page lists.

    The reference pages list functions by topic; a function added to ``mlx.core`` (or
    one of its submodules) later still gets documented, under "Other functions", until
    someone files it under a topic.
    """
    if "MLX_OTHER_FUNCTIONS" not in source[0]:
        return
    module = re.search(r"^\.\. currentmodule:: ([\w.]+)", source[0], re.MULTILINE)
    mod = importlib.import_module(module.group(1))
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "python")
    listed = set()
    for fname in os.listdir(here):
        if fname.endswith(".rst"):
            with open(os.path.join(here, fname), encoding="utf-8") as f:
                text = f.read()
            cur = re.search(r"^\.\. currentmodule:: ([\w.]+)", text, re.MULTILINE)
            if cur and cur.group(1) == module.group(1):
                listed.update(_DOCUMENTED.findall(text))
    names = []
    for name in sorted(dir(mod)):
        obj = getattr(mod, name)
        if name.startswith("_") or name in listed or isinstance(obj, type):
            continue
        if type(obj).__name__ == "nb_type" or not callable(obj):
            continue
        if type(obj).__name__ == "module":
            continue
        names.append(name)
    block = ""
    if names:
        block = "Other functions\n---------------\n\n" + "".join(
            f".. autofunction:: {n}\n" for n in names
        )
    source[0] = source[0].replace("MLX_OTHER_FUNCTIONS", block)


def setup(app):
    app.connect("source-read", _other_functions)
    app.connect("source-read", _dev_notes)
    app.connect("source-read", _alias_signatures)
    app.connect("autodoc-process-signature", _process_signature)
    # Before napoleon (priority 500), which would read a signature line as a type.
    app.connect("autodoc-process-docstring", _process_docstring, priority=100)
    return {"parallel_read_safe": True}
