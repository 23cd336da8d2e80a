"""The numba kernels of the assessment networks' inputs (musicdesk.assess.features calls them): the
octave-tolerant pitch distance, DTW over it, and the resized distance image.

A module of their own so that importing musicdesk.assess.features (and the networks, and a process
that only runs them) does not import numba (about 0.2 s, and 0.3 s more to load the first kernel).
"""
from __future__ import annotations

import numpy as np

from musicdesk.assess.features import REST_DISTANCE
from musicdesk.compiled import kernel


@kernel(cache=True, nogil=True)
def dist(x: float, y: float) -> float:
    if x <= 0.0 or y <= 0.0:
        return 0.0 if (x <= 0.0 and y <= 0.0) else REST_DISTANCE
    d = abs(x - y)
    r = d % 12.0
    return min(r, 12.0 - r) + min(1.0, np.floor(d / 12.0))


@kernel(cache=True, nogil=True)
def fill_distance(a, b, out):
    for i in range(len(a)):
        for j in range(len(b)):
            out[i, j] = dist(a[i], b[j])


@kernel(cache=True, nogil=True)
def dtw_path_rows(a, b):
    """DTW over the octave-tolerant distance, steps (1,1), (1,0), (0,1); for each row i of `a` the
    first column j of `b` on the optimal path."""
    n, m = len(a), len(b)
    acc = np.empty((n, m), dtype=np.float32)
    for i in range(n):
        for j in range(m):
            c = dist(a[i], b[j])
            if i == 0 and j == 0:
                acc[i, j] = c
            elif i == 0:
                acc[i, j] = c + acc[i, j - 1]
            elif j == 0:
                acc[i, j] = c + acc[i - 1, j]
            else:
                best = acc[i - 1, j - 1]
                if acc[i - 1, j] < best:
                    best = acc[i - 1, j]
                if acc[i, j - 1] < best:
                    best = acc[i, j - 1]
                acc[i, j] = c + best
    first = np.empty(n, dtype=np.int64)
    i, j = n - 1, m - 1
    first[i] = j
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            d, u, l = acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]
            if d <= u and d <= l:
                i -= 1
                j -= 1
            elif u <= l:
                i -= 1
            else:
                j -= 1
        first[i] = j
    return first


@kernel(cache=True, nogil=True)
def pooled_distance(a, b, size):
    """The distance matrix resized to (size, size): each axis is first stretched by repetition to at
    least `size`, then averaged over equal blocks (an area resize)."""
    la, lb = max(len(a), size), max(len(b), size)
    out = np.zeros((size, size), dtype=np.float32)
    cnt = np.zeros((size, size), dtype=np.float32)
    for k in range(la):
        i = k * len(a) // la
        u = k * size // la
        for q in range(lb):
            j = q * len(b) // lb
            v = q * size // lb
            out[u, v] += dist(a[i], b[j])
            cnt[u, v] += 1.0
    return out / np.maximum(cnt, 1.0)
