"""The numeric kernels (numba), compiled when first called, or ahead of time for the command line.

A fresh `musicdesk analyze` spent about 0.6 s of its 1.5-1.9 s on numba before its first kernel ran:
importing numba (0.2 s), then, on the first call, numba's own start-up (its numpy support imports
scipy.linalg, 0.17 s, only to see whether BLAS is there) and loading the cached kernel (0.2 s more).
So kernels are declared with `@kernel(...)` (numba.njit's options) and resolved on their first call:

- in the window and in tests, by numba.njit as before (kernels release the GIL there, `nogil`, so the
  window stays responsive while a worker analyses);
- in the command line (`use_ahead_of_time()`), by the same kernels compiled ahead of time into a plain
  extension module with numba.pycc (`python -m musicdesk.compiled build`, run by packaging/setup.sh):
  importing it takes under 1 ms and neither numba nor scipy is imported. The module is named after a
  fingerprint of the kernels' sources, numba and Python (`source_id`), so an edit makes it stale and
  it is not used until built again.

The ahead-of-time functions check nothing about their arguments (a wrong dtype crashes the process),
so each call is checked against the types the build recorded; any other call, and every kernel the
build did not export, goes to numba.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable

AOT_DIR = Path(__file__).resolve().parent / "_aot"
KERNEL_MODULES = ("musicdesk.pitch_yin", "musicdesk.align_hmm", "musicdesk.assess.kernels")
# The kernel modules' sources, and the ones whose constants those kernels read.
SOURCES = (*(m.removeprefix("musicdesk.").replace(".", "/") + ".py" for m in KERNEL_MODULES),
           "assess/features.py")
_PACKAGE_DIR = Path(__file__).resolve().parent

_kernels: dict[str, list["Kernel"]] = {}      # module name -> its kernels, in definition order
_ahead_of_time = False
_jit_lock = threading.Lock()                  # two threads' first calls make one set of dispatchers
_aot: tuple[Any, dict] | None | bool = False   # (module, {export: arg specs}), None: none; False: not looked


def kernel(**numba_options: Any) -> Callable[[Callable], "Kernel"]:
    """Declare a numba kernel: `@kernel(cache=True, nogil=True)` in place of `@njit(...)`."""
    def wrap(func: Callable) -> Kernel:
        return Kernel(func, numba_options)
    return wrap


def use_ahead_of_time(on: bool = True) -> None:
    """Resolve kernels not yet called to the ahead-of-time build where there is one (the command
    line). MUSICDESK_AOT=off leaves them to numba."""
    global _ahead_of_time
    _ahead_of_time = on and os.environ.get("MUSICDESK_AOT", "").lower() not in ("off", "0", "no")


def export_name(module: str, name: str) -> str:
    return f"{module.replace('.', '_')}__{name}"


class Kernel:
    """A kernel resolved on its first call: to the ahead-of-time function when wanted and the
    arguments have the types it was built for, else to numba.njit (the module's kernels all at once,
    so that kernels calling each other are compiled against numba's dispatchers)."""

    def __init__(self, func: Callable, numba_options: dict) -> None:
        functools.update_wrapper(self, func)
        self.py_func, self.numba_options = func, numba_options
        self.module, self.name = func.__module__, func.__name__
        self.jit: Callable | None = None
        _kernels.setdefault(self.module, []).append(self)

    def __call__(self, *args: Any) -> Any:
        if _ahead_of_time:
            fast = _ahead_of_time_call(self, args)
            if fast is not None:
                return fast[0]
        if self.jit is None:
            _jit_module(self.module)
        return self.jit(*args)


def _jit_module(module: str) -> None:
    """numba.njit every kernel of `module`, rebinding the module's names to numba's dispatchers."""
    import numba

    mod = sys.modules[module]
    with _jit_lock:
        for k in _kernels[module]:
            if k.jit is None:
                k.jit = numba.njit(**k.numba_options)(k.py_func)
                setattr(mod, k.name, k.jit)


def _ahead_of_time_call(k: Kernel, args: tuple) -> tuple[Any] | None:
    """(result,) from the ahead-of-time build, or None when there is none for these arguments."""
    built = _load()
    if not built:
        return None
    module, specs = built
    name = export_name(k.module, k.name)
    spec = specs.get(name)
    if spec is None or not _fits(args, spec):
        return None
    return (getattr(module, name)(*args),)


def _fits(args: tuple, spec: list) -> bool:
    """Whether `args` have exactly the types of one export (see _spec): the compiled code trusts them."""
    import numpy as np

    if len(args) != len(spec):
        return False
    for a, s in zip(args, spec):
        kind = s[0]
        if kind == "array":
            _, dtype, ndim, layout = s
            if not (isinstance(a, np.ndarray) and a.dtype.str == dtype and a.ndim == ndim
                    and a.flags.aligned and (layout != "C" or a.flags.c_contiguous)):
                return False
        elif kind == "int":
            if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
                return False
        elif kind == "float":
            if not isinstance(a, (float, np.floating)):
                return False
        elif kind == "bool":
            if not isinstance(a, (bool, np.bool_)):
                return False
        else:
            return False
    return True


def source_id() -> str:
    """12 hex digits of SHA-256 over the kernels' sources, numba's version, Python's and the machine's."""
    import platform

    h = hashlib.sha256()
    for rel in SOURCES:
        h.update(rel.encode() + b"\0" + (_PACKAGE_DIR / rel).read_bytes() + b"\0")
    try:
        from importlib.metadata import version

        numba_version = version("numba")
    except Exception:
        numba_version = "?"
    h.update(f"{numba_version}|{sys.version_info[:3]}|{platform.machine()}".encode())
    return h.hexdigest()[:12]


def built_path(directory: Path = AOT_DIR, sid: str | None = None) -> tuple[Path, Path] | None:
    """(extension module, its specs JSON) built for the current sources (`source_id`, or `sid`), or None."""
    name = f"kernels_{sid or source_id()}"
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        so = directory / f"{name}{suffix}"
        if so.exists() and (directory / f"{name}.json").exists():
            return so, directory / f"{name}.json"
    return None


def _load() -> tuple[Any, dict] | None:
    global _aot
    if _aot is False:
        _aot = None
        try:
            found = built_path()
            if found is not None:
                so, spec_path = found
                name = so.name.split(".")[0]
                loader = importlib.machinery.ExtensionFileLoader(name, str(so))
                mod = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
                loader.exec_module(mod)
                _aot = (mod, json.loads(spec_path.read_text())["exports"])
        except Exception:        # a build that does not load: numba does the work
            _aot = None
    return _aot


# ------------------------------------------------------------------------------------------- build

def _spec(numba_type: Any) -> list:
    """A numba argument type as checkable facts: ["array", dtype.str, ndim, layout] or ["int"] ..."""
    import numpy as np
    from numba import types

    if isinstance(numba_type, types.Array):
        return ["array", np.dtype(str(numba_type.dtype)).str, numba_type.ndim, numba_type.layout]
    if isinstance(numba_type, types.Boolean):
        return ["bool"]
    if isinstance(numba_type, types.Integer) and numba_type.bitwidth == 64 and numba_type.signed:
        return ["int"]
    if isinstance(numba_type, types.Float) and numba_type.bitwidth == 64:
        return ["float"]
    raise TypeError(f"no ahead-of-time export for an argument of type {numba_type}")


def _exercise() -> None:
    """Run the command line's analysis of the bundled example once (numba), so that every kernel it
    calls records the argument types it is called with."""
    import tempfile

    from musicdesk.cli import main
    from musicdesk.score import example_score_path

    take = _PACKAGE_DIR.parent / "resources" / "takes" / "example-take.flac"
    with tempfile.TemporaryDirectory() as d:
        try:
            main(["analyze", str(example_score_path()), str(take), "--json", os.path.join(d, "r.json"),
                  "--quiet"])
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise


def build(directory: Path = AOT_DIR) -> Path:
    """Compile the kernels the command line's analysis calls (one export per kernel, for the types it
    was called with) into `directory`; removes the builds for other sources. Returns the module path."""
    import importlib

    from numba.pycc import CC

    use_ahead_of_time(False)
    for mod in KERNEL_MODULES:
        importlib.import_module(mod)
    _exercise()
    directory.mkdir(parents=True, exist_ok=True)
    sid = source_id()
    name = f"kernels_{sid}"
    cc = CC(name)
    cc.output_dir = str(directory)
    cc.verbose = False
    exports: dict[str, list] = {}
    for module, ks in _kernels.items():
        for k in ks:
            if k.jit is None or not k.jit.nopython_signatures:
                continue
            sig = k.jit.nopython_signatures[0]
            try:
                specs = [_spec(t) for t in sig.args]
            except TypeError:
                continue
            cc.export(export_name(module, k.name), sig)(k.py_func)
            exports[export_name(module, k.name)] = specs
    for old in directory.glob("kernels_*"):
        old.unlink()
    cc.compile()
    (directory / f"{name}.json").write_text(json.dumps({"source_id": sid, "exports": exports}, indent=1))
    found = built_path(directory, sid)
    if found is None:
        raise RuntimeError(f"numba.pycc wrote no module {name} into {directory}")
    return found[0]


def main(argv: list[str] | None = None) -> int:
    """`python -m musicdesk.compiled build|status`."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m musicdesk.compiled",
                                description="The command line's kernels, compiled ahead of time.")
    p.add_argument("action", choices=("build", "status"))
    a = p.parse_args(argv)
    found = built_path()
    if a.action == "status":
        print(f"built for these sources: {found[0]}" if found else
              "not built for these sources (numba compiles them); run: python -m musicdesk.compiled build")
        return 0 if found else 1
    if found is not None:
        print(f"up to date: {found[0]}")
        return 0
    print(f"built: {build()}")
    return 0


if __name__ == "__main__":   # run as musicdesk.compiled, not __main__: the kernels register there
    from musicdesk.compiled import main as _main

    sys.exit(_main())
