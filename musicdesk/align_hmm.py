"""Viterbi decoding of a left-to-right note HMM (the engine behind `musicdesk.align`).

States, for each score note n (in this order in the flat state vector):
  chain[n, 0..L_n-1]  note n sounding; it may end from state M_n-1 on (M_n = minimum duration in
                      frames); the last state loops at a cost per frame (a soft maximum duration);
  gap[n]              after note n: a rest / articulation gap (self loop);
  extra[n, 0..LX-1]   an inserted note between n and n+1 (minimum LX frames, last state loops).
Plus LEAD (before the player starts: silence, noise, anything) and TAIL (after the player stopped).

Entry into note n (chain[n, 0]) comes from: LEAD (cost start_cost[n]), the end of note n-1, gap[n-1],
extra[n-1], or, skipping the k missed notes in between, the end / gap of note n-1-k (k * skip_cost).
Any note end or gap may go to TAIL (cost stop_cost[n]). Entering a note or an extra note costs
`onset_cost[t]` (low where the onset detector fires), or `repeat_onset_cost[t]` for a note that repeats
the previous pitch (only a clear re-attack makes it a new note); this places boundaries between notes.
Staying in a note, gap or extra note over an onset-detector peak costs `stay_cost[t]`. Ending note n
after d frames costs `end_cost[n, d-1]` (a duration prior); entering a note far from `entry_at[n]`
costs extra (an onset-time prior, used for repeated notes).
All costs are negative log-likelihoods (per frame for emissions).
"""
from __future__ import annotations

import numpy as np

from musicdesk.compiled import kernel

# Codes of where a path was in each frame (returned by `decode`).
LEAD, NOTE, GAP, EXTRA, TAIL = 0, 1, 2, 3, 4


@kernel(cache=True, nogil=True)
def _viterbi(note_cost, gap_cost, extra_cost, bg_cost, onset_cost, stay_cost, chain_len, min_len, loop_cost,
             extra_len, start_cost, stop_cost, skip_cost, gap_enter_cost, extra_enter_cost, max_skip,
             band_lo, band_hi, repeat_onset_cost, is_repeat, end_cost, entry_at, entry_width, entry_weight,
             entry_cap):
    """note_cost: (N, T); per-frame arrays: (T,). Notes outside [band_lo[t], band_hi[t]] are not
    considered at frame t (band_lo / band_hi non-decreasing). end_cost[n, k]: cost of ending note n
    from chain state k (a duration prior). Entering note n at frame t costs, where entry_width[n] > 0,
    min(entry_cap, entry_weight * x^2) with x = max(0, |t - entry_at[n]| / entry_width[n] - 1) (an
    onset-time prior). Returns the path and its cost."""
    n_notes, n_frames = note_cost.shape
    lx = extra_len
    chain_start = np.zeros(n_notes + 1, np.int64)
    gap_idx = np.zeros(n_notes, np.int64)
    extra_start = np.zeros(n_notes, np.int64)
    s = 1  # state 0 is LEAD
    for n in range(n_notes):
        chain_start[n] = s
        s += chain_len[n]
        gap_idx[n] = s
        s += 1
        extra_start[n] = s
        s += lx
    chain_start[n_notes] = s  # end of the last note's states
    tail = s
    n_states = s + 1
    inf = 1e30
    prev = np.full(n_states, inf)
    cur = np.full(n_states, inf)
    # back pointers of the band's states only, as offsets st - pred (int16); -1 means LEAD
    row = np.zeros(n_frames + 1, np.int64)
    for t in range(n_frames):
        row[t + 1] = row[t] + chain_start[band_hi[t] + 1] - chain_start[band_lo[t]]
    bp = np.zeros(row[n_frames], np.int16)
    tail_bp = np.zeros(n_frames, np.int64)
    prev[0] = bg_cost[0]
    for n in range(band_lo[0], band_hi[0] + 1):
        prev[chain_start[n]] = start_cost[n] + (repeat_onset_cost[0] if is_repeat[n] else onset_cost[0]) + note_cost[n, 0]
    end_val = np.full(n_notes, inf)
    end_arg = np.zeros(n_notes, np.int64)
    for t in range(1, n_frames):
        lo = band_lo[t]
        hi = band_hi[t]
        base = row[t] - chain_start[lo]  # bp index of state st at frame t: base + st
        # best state of each note from which it may end (past its minimum duration)
        for n in range(max(0, lo - 1 - max_skip), hi + 1):
            cs = chain_start[n]
            bv = inf
            ba = cs + chain_len[n] - 1
            for k in range(min_len[n] - 1, chain_len[n]):
                v = prev[cs + k] + end_cost[n, k]
                if v < bv:
                    bv = v
                    ba = cs + k
            end_val[n] = bv
            end_arg[n] = ba
        cur[0] = prev[0] + bg_cost[t]
        best_tail = prev[tail]
        best_tail_from = tail
        for n in range(lo, hi + 1):
            cs = chain_start[n]
            L = chain_len[n]
            end = cs + L - 1
            nc = note_cost[n, t]
            # --- entry into note n
            best = prev[0] + start_cost[n]
            arg = 0
            if n >= 1:
                v = end_val[n - 1]
                if v < best:
                    best = v
                    arg = end_arg[n - 1]
                v = prev[gap_idx[n - 1]]
                if v < best:
                    best = v
                    arg = gap_idx[n - 1]
                v = prev[extra_start[n - 1] + lx - 1]
                if v < best:
                    best = v
                    arg = extra_start[n - 1] + lx - 1
            for k in range(1, max_skip + 1):
                m = n - 1 - k
                if m < 0:
                    break
                v = end_val[m] + k * skip_cost
                if v < best:
                    best = v
                    arg = end_arg[m]
                v = prev[gap_idx[m]] + k * skip_cost
                if v < best:
                    best = v
                    arg = gap_idx[m]
            entry = repeat_onset_cost[t] if is_repeat[n] else onset_cost[t]
            if entry_width[n] > 0:
                x = abs(t - entry_at[n]) / entry_width[n] - 1.0
                if x > 0:
                    entry += min(entry_cap, entry_weight * x * x)
            cur[cs] = best + entry + nc
            bp[base + cs] = -1 if arg == 0 else cs - arg
            # --- chain
            for k in range(1, L):
                cur[cs + k] = prev[cs + k - 1] + nc + stay_cost[t]
                bp[base + cs + k] = 1
            # self loop on the last chain state
            v = prev[end] + nc + loop_cost[n] + stay_cost[t]
            if v < cur[end]:
                cur[end] = v
                bp[base + end] = 0
            # --- gap after note n
            g = gap_idx[n]
            a = prev[g]
            arg = g
            v = end_val[n] + gap_enter_cost
            if v < a:
                a = v
                arg = end_arg[n]
            xe = extra_start[n] + lx - 1
            v = prev[xe] + gap_enter_cost  # an extra note may be followed by a rest
            if v < a:
                a = v
                arg = xe
            cur[g] = a + gap_cost[t] + stay_cost[t]
            bp[base + g] = g - arg
            # --- extra note after note n (from its end or its gap)
            xs = extra_start[n]
            a = end_val[n]
            arg = end_arg[n]
            if prev[g] < a:
                a = prev[g]
                arg = g
            cur[xs] = a + extra_enter_cost + onset_cost[t] + extra_cost[t]
            bp[base + xs] = xs - arg
            for k in range(1, lx):
                cur[xs + k] = prev[xs + k - 1] + extra_cost[t] + stay_cost[t]
                bp[base + xs + k] = 1
            v = prev[xe] + extra_cost[t] + stay_cost[t]
            if v < cur[xe]:
                cur[xe] = v
                bp[base + xe] = 0
            # --- to TAIL
            v = end_val[n] + stop_cost[n]
            if v < best_tail:
                best_tail = v
                best_tail_from = end_arg[n]
            v = prev[g] + stop_cost[n]
            if v < best_tail:
                best_tail = v
                best_tail_from = g
        cur[tail] = best_tail + bg_cost[t]
        tail_bp[t] = best_tail_from
        # roll: states that left the band become impossible
        plo = band_lo[t - 1]
        for i in range(chain_start[plo], chain_start[lo]):
            prev[i] = inf
        for i in range(chain_start[lo], chain_start[hi + 1]):
            prev[i] = cur[i]
        prev[0] = cur[0]
        prev[tail] = cur[tail]
    # final state: TAIL, or the end / gap of the last note
    last = n_notes - 1
    fin = tail
    best = prev[tail]
    for k in range(min_len[last] - 1, chain_len[last]):
        e = chain_start[last] + k
        if prev[e] + end_cost[last, k] < best:
            best = prev[e] + end_cost[last, k]
            fin = e
    if prev[gap_idx[last]] < best:
        best = prev[gap_idx[last]]
        fin = gap_idx[last]
    path = np.zeros(n_frames, np.int64)
    path[n_frames - 1] = fin
    for t in range(n_frames - 1, 0, -1):
        st = path[t]
        if st == tail:
            path[t - 1] = tail_bp[t]
        elif st == 0:
            path[t - 1] = 0
        else:
            o = bp[row[t] - chain_start[band_lo[t]] + st]
            path[t - 1] = 0 if o == -1 else st - o
    # translate states to (kind, note, position-in-chain)
    kind = np.zeros(n_frames, np.int64)
    note = np.full(n_frames, -1, np.int64)
    pos = np.zeros(n_frames, np.int64)
    for t in range(n_frames):
        st = path[t]
        if st == 0:
            kind[t] = LEAD
        elif st == tail:
            kind[t] = TAIL
        else:
            lo = 0
            hi = n_notes - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if chain_start[mid] <= st:
                    lo = mid
                else:
                    hi = mid - 1
            n = lo
            note[t] = n
            if st < gap_idx[n]:
                kind[t] = NOTE
                pos[t] = st - chain_start[n]
            elif st == gap_idx[n]:
                kind[t] = GAP
            else:
                kind[t] = EXTRA
                pos[t] = st - extra_start[n]
    return kind, note, pos, best


def decode(note_cost: np.ndarray, gap_cost: np.ndarray, extra_cost: np.ndarray, bg_cost: np.ndarray,
           onset_cost: np.ndarray, stay_cost: np.ndarray, chain_len: np.ndarray, min_len: np.ndarray, loop_cost: np.ndarray,
           extra_len: int, start_cost: np.ndarray, stop_cost: np.ndarray, skip_cost: float,
           gap_enter_cost: float, extra_enter_cost: float, max_skip: int = 2,
           band_lo: np.ndarray | None = None, band_hi: np.ndarray | None = None,
           repeat_onset_cost: np.ndarray | None = None, is_repeat: np.ndarray | None = None,
           end_cost: np.ndarray | None = None, entry_at: np.ndarray | None = None,
           entry_width: np.ndarray | None = None, entry_weight: float = 0.0, entry_cap: float = 0.0
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Best path: per frame (kind code, note index or -1, position within the chain) and its cost.

    Note n has chain_len[n] states; it may end from state min_len[n]-1 on; its last state loops at
    loop_cost[n] per frame (a duration beyond chain_len[n] frames costs that much per frame).
    stay_cost[t] is paid by every note / gap / extra state except a note's or extra's first frame
    (an onset inside a note is evidence against it). band_lo / band_hi (per frame, non-decreasing)
    restrict which notes are considered at each frame (default: all). Entering a note n with
    is_repeat[n] (the same pitch as note n-1) costs repeat_onset_cost[t] instead of onset_cost[t].
    end_cost (N, >= max chain_len), default 0: cost of ending note n after k+1 frames in its chain
    (a duration prior; the last chain state's value holds for every longer stay). entry_at /
    entry_width (N,; width <= 0: none): an onset-time prior on entering note n, see `_viterbi`.
    """
    n_notes, n_frames = note_cost.shape
    if repeat_onset_cost is None:
        repeat_onset_cost = onset_cost
    if is_repeat is None:
        is_repeat = np.zeros(n_notes, np.bool_)
    if band_lo is None:
        band_lo = np.zeros(n_frames, np.int64)
    if band_hi is None:
        band_hi = np.full(n_frames, n_notes - 1, np.int64)
    if end_cost is None:
        end_cost = np.zeros((n_notes, int(np.max(chain_len)) if n_notes else 1))
    if entry_at is None or entry_width is None:
        entry_at, entry_width = np.zeros(n_notes), np.zeros(n_notes)
    return _viterbi(np.ascontiguousarray(note_cost, np.float64), np.ascontiguousarray(gap_cost, np.float64),
                    np.ascontiguousarray(extra_cost, np.float64), np.ascontiguousarray(bg_cost, np.float64),
                    np.ascontiguousarray(onset_cost, np.float64), np.ascontiguousarray(stay_cost, np.float64),
                    np.ascontiguousarray(chain_len, np.int64), np.ascontiguousarray(min_len, np.int64),
                    np.ascontiguousarray(loop_cost, np.float64), int(extra_len),
                    np.ascontiguousarray(start_cost, np.float64), np.ascontiguousarray(stop_cost, np.float64),
                    float(skip_cost), float(gap_enter_cost), float(extra_enter_cost), int(max_skip),
                    np.ascontiguousarray(band_lo, np.int64), np.ascontiguousarray(band_hi, np.int64),
                    np.ascontiguousarray(repeat_onset_cost, np.float64),
                    np.ascontiguousarray(is_repeat, np.bool_), np.ascontiguousarray(end_cost, np.float64),
                    np.ascontiguousarray(entry_at, np.float64), np.ascontiguousarray(entry_width, np.float64),
                    float(entry_weight), float(entry_cap))
