"""The kernels compiled ahead of time for the command line (musicdesk.compiled): a fresh `musicdesk
analyze` runs them without importing numba and says exactly what numba's kernels say; an argument of
another type goes to numba instead of into code that would crash on it; a build of other sources is
never loaded."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from musicdesk import compiled
from musicdesk.score import example_score_path

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAKE = os.path.join(REPO, "resources", "takes", "example-take.flac")


@pytest.fixture(scope="module")
def built():
    """The build for the current sources (packaging/setup.sh makes it; made here when it is missing)."""
    found = compiled.built_path()
    if found is None:
        r = subprocess.run([sys.executable, "-m", "musicdesk.compiled", "build"], capture_output=True,
                           text=True, timeout=600, cwd=REPO)
        assert r.returncode == 0, r.stderr[-2000:]
        found = compiled.built_path()
    assert found is not None
    return found


def _analyze(tmp_path, name: str, aot: str) -> tuple[dict, str]:
    out = tmp_path / f"{name}.json"
    env = dict(os.environ, MUSICDESK_AOT=aot)
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "musicdesk", "analyze", str(example_score_path()),
                        TAKE, "--json", str(out), "--quiet"], capture_output=True, text=True, env=env,
                       timeout=300, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(out.read_text())
    report.pop("timings_s", None)
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    return report, imported


def test_a_fresh_analyze_runs_the_compiled_kernels_without_numba_and_says_the_same(built, tmp_path):
    fast, fast_imports = _analyze(tmp_path, "aot", "on")
    slow, slow_imports = _analyze(tmp_path, "jit", "off")
    assert "numba" in slow_imports and "numba" not in fast_imports
    assert "scipy.linalg" not in fast_imports      # numba's numpy support imported it, 0.17 s
    assert fast == slow                              # every note, cent and rating


def test_an_argument_of_another_type_goes_to_numba_not_into_the_compiled_code(built):
    """The compiled functions trust their arguments (a float64 array where float32 was built crashes the
    process), so a call of other types than the build's is numba's. Run in a child: a crash must not
    take the test session with it."""
    code = (
        "import numpy as np\n"
        "from musicdesk import compiled\n"
        "compiled.use_ahead_of_time()\n"
        "from musicdesk.assess import kernels\n"
        "a = np.array([60.0, 62.0, 64.0, 65.0], np.float32); b = np.array([60.0, 64.0, 65.0], np.float32)\n"
        "fast = kernels.dtw_path_rows(a, b)\n"
        "assert 'numba' not in __import__('sys').modules\n"
        "other = kernels.dtw_path_rows(a.astype(np.float64), b.astype(np.float64))\n"
        "strided = kernels.dtw_path_rows(np.repeat(a, 2)[::2], b)\n"
        "assert 'numba' in __import__('sys').modules\n"
        "print(fast.tolist(), other.tolist(), strided.tolist())\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    fast, other, strided = json.loads("[" + r.stdout.strip().replace("] [", "], [") + "]")
    assert fast == other == strided and len(fast) == 4


def test_a_build_of_other_sources_is_not_loaded(tmp_path, monkeypatch):
    so = tmp_path / "kernels_000000000000.cpython-311-x86_64-linux-gnu.so"
    so.write_bytes(b"not a module")
    (tmp_path / "kernels_000000000000.json").write_text('{"exports": {}}')
    assert compiled.built_path(tmp_path) is None
    monkeypatch.setattr(compiled, "source_id", lambda: "000000000000")
    assert compiled.built_path(tmp_path) == (so, tmp_path / "kernels_000000000000.json")


def test_the_argument_check_matches_only_the_types_built():
    spec = [["array", np.dtype(np.float32).str, 1, "C"], ["array", np.dtype(np.float64).str, 2, "A"],
            ["int"], ["float"], ["bool"]]
    a, m = np.zeros(4, np.float32), np.zeros((3, 4))
    assert compiled._fits((a, m, 3, 2.5, True), spec)
    assert compiled._fits((a, m[:, ::2], np.int64(3), np.float64(2.5), np.bool_(False)), spec)  # 'A': any layout
    assert not compiled._fits((a[::2], m, 3, 2.5, True), spec)          # 'C' wanted, strided given
    assert not compiled._fits((a.astype(np.float64), m, 3, 2.5, True), spec)
    assert not compiled._fits((a, m[0], 3, 2.5, True), spec)            # one dimension, not two
    assert not compiled._fits((a, m, 3.0, 2.5, True), spec)             # a float for an int
    assert not compiled._fits((a, m, True, 2.5, True), spec)            # a bool is no int here
    assert not compiled._fits((a, m, 3, 2.5), spec)
