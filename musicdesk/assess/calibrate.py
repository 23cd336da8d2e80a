"""Teacher calibration: learn a teacher's own grading from takes they graded.

Grades come from a CSV with the columns audio, score, criterion, grade (optional: part). Any criterion
may be graded, musicality and tone included, on any numeric scale. For each take musicdesk computes a
feature vector: the network's ratings and pooled embedding and the interpretable ratings and figures
of the practice report. Per criterion a ridge regression maps the features to the teacher's grades;
its strength is chosen by leave-one-out on the training takes, and the reported R² is from an outer
k-fold cross-validation on the teacher's own takes (each take predicted by a model that never saw it).
The calibration is a small JSON file (no pickles): means, scales and coefficients per criterion, and
the fingerprint of the network's weights it was made on (it applies to those weights only).
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

ALPHAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
Z_CLIP = 3.0   # standardised features are clipped here: a few graded takes must not be extrapolated wildly
REPORT_FEATURES = ("note_accuracy", "rhythmic_accuracy", "intonation")
SUMMARY_FEATURES = ("percent_correct", "coverage", "median_abs_cents", "timing_spread_ms")
MIN_TAKES = 4


class CalibrationError(ValueError):
    """The grades cannot be used; the message says what to do."""


@dataclass(frozen=True)
class Grade:
    audio: str
    score: str
    part: str | None
    criterion: str
    grade: float


def read_grades(path: str | os.PathLike) -> list[Grade]:
    """Rows of a grades CSV (paths relative to the CSV's folder). Raises CalibrationError on bad rows."""
    p = Path(path)
    if not p.is_file():
        raise CalibrationError(f"Grades file not found: {p}")
    out: list[Grade] = []
    with open(p, newline="", encoding="utf-8-sig") as fh:
        rows = csv.DictReader(fh)
        need = {"audio", "score", "criterion", "grade"}
        if not rows.fieldnames or not need <= {f.strip().lower() for f in rows.fieldnames}:
            raise CalibrationError(f"{p} needs the columns audio, score, criterion, grade "
                                   f"(found: {', '.join(rows.fieldnames or [])}).")
        for n, row in enumerate(rows, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            try:
                g = float(row["grade"])
            except ValueError:
                raise CalibrationError(f"{p}, line {n}: grade {row['grade']!r} is not a number.") from None
            if not np.isfinite(g):
                raise CalibrationError(f"{p}, line {n}: grade {row['grade']!r} is not a finite number.")
            crit = row["criterion"].lower().replace(" ", "_")
            if not crit:
                raise CalibrationError(f"{p}, line {n}: the criterion is empty.")
            out.append(Grade(str((p.parent / row["audio"]).resolve()), str((p.parent / row["score"]).resolve()),
                             row.get("part") or None, crit, g))
    if not out:
        raise CalibrationError(f"{p} has no grades.")
    return out


def take_features(analysis, assessment_ratings: Sequence[float], embedding: np.ndarray) -> np.ndarray:
    """The feature vector of one analysed take (see module docstring)."""
    rep = analysis.report
    s = rep.summary
    # heavy-tailed figures on a log scale (one take with a 500 ms timing spread must not dominate)
    summ = [float(s.get(k) or 0.0) for k in SUMMARY_FEATURES]
    summ = [np.log1p(max(0.0, v)) if k in ("median_abs_cents", "timing_spread_ms") else v
            for k, v in zip(SUMMARY_FEATURES, summ)]
    return np.concatenate([np.asarray(assessment_ratings, float), [float(rep.ratings[k]) for k in REPORT_FEATURES],
                           summ, np.asarray(embedding, float)])


def _ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Ridge on standardised x (no penalty on the intercept)."""
    k = x.shape[1]
    w = np.linalg.solve(x.T @ x + alpha * np.eye(k), x.T @ (y - y.mean()))
    return w, float(y.mean())


def _standardise(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.clip((np.atleast_2d(x) - mean) / scale, -Z_CLIP, Z_CLIP)


def _loo_alpha(x: np.ndarray, y: np.ndarray) -> float:
    """The ridge strength with the lowest leave-one-out error (closed form through the hat matrix)."""
    best, best_err = ALPHAS[0], np.inf
    yc = y - y.mean()
    for a in ALPHAS:
        h = x @ np.linalg.solve(x.T @ x + a * np.eye(x.shape[1]), x.T)
        resid = yc - h @ yc
        err = np.mean((resid / np.maximum(1e-9, 1.0 - np.diag(h) - 1.0 / len(y))) ** 2)  # + the intercept
        if err < best_err:
            best, best_err = a, err
    return best


@dataclass
class CriterionModel:
    """Standardisation, ridge weights and figures for one criterion."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    alpha: float
    n_takes: int
    cv_r2: float
    grade_min: float
    grade_max: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = _standardise(x, self.mean, self.scale)
        return np.clip(z @ self.coef + self.intercept, self.grade_min, self.grade_max)

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept, "alpha": self.alpha, "n_takes": self.n_takes,
                "cv_r2": self.cv_r2, "grade_min": self.grade_min, "grade_max": self.grade_max}

    @classmethod
    def from_json(cls, d: dict) -> "CriterionModel":
        return cls(np.asarray(d["mean"], float), np.asarray(d["scale"], float), np.asarray(d["coef"], float),
                   float(d["intercept"]), float(d["alpha"]), int(d["n_takes"]), float(d["cv_r2"]),
                   float(d["grade_min"]), float(d["grade_max"]))


def fit_criterion(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> CriterionModel:
    """Fit on all takes; cv_r2 from k-fold cross-validation (alpha chosen inside each fold)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(y)
    if n < MIN_TAKES:
        raise CalibrationError(f"Need at least {MIN_TAKES} graded takes per criterion, got {n}.")

    def fit(xt, yt):
        mean, scale = xt.mean(0), xt.std(0)
        scale = np.where(scale > 1e-9, scale, 1.0)
        z = _standardise(xt, mean, scale)
        a = _loo_alpha(z, yt)
        w, b = _ridge_fit(z, yt, a)
        return mean, scale, w, b, a

    k = min(folds, n)
    order = np.random.default_rng(seed).permutation(n)
    pred = np.zeros(n)
    for f in range(k):
        te = order[f::k]
        tr = np.setdiff1d(order, te)
        mean, scale, w, b, _ = fit(x[tr], y[tr])
        pred[te] = _standardise(x[te], mean, scale) @ w + b
    ss_tot = float(((y - y.mean()) ** 2).sum())
    cv_r2 = 1.0 - float(((y - pred) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    mean, scale, w, b, a = fit(x, y)
    return CriterionModel(mean, scale, w, b, a, n, cv_r2, float(y.min()), float(y.max()))


@dataclass
class Calibration:
    """A teacher's calibration: the network it sits on and one model per graded criterion.
    `weights_id`: the fingerprint of the network's weights it was made on (musicdesk.assess.weights.
    weights_id; "" for calibrations made before 2026-12-07, which do not say): its coefficients weigh
    that network's embedding, and mean nothing for another training of it."""

    model: str
    criteria: dict   # criterion -> CriterionModel
    weights_id: str = ""

    def on_network(self, assessment) -> bool:
        """Whether a take's network ratings (musicdesk.assess.predict.Assessment) come from the network
        this calibration was made on (by name; `fits` also asks for the same weights)."""
        from musicdesk.assess import DISPLAY_NAMES

        return DISPLAY_NAMES.get(self.model, self.model) == assessment.model

    def fits(self, assessment) -> bool:
        """Whether this calibration applies to a take's network ratings: the same network, and the
        same weights where both say which."""
        return self.on_network(assessment) and not (
            self.weights_id and assessment.weights_id and self.weights_id != assessment.weights_id)

    def predict(self, features: np.ndarray) -> dict:
        return {c: float(m.predict(features)[0]) for c, m in self.criteria.items()}

    def save(self, path: str | os.PathLike) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps({"version": 1, "model": self.model, "weights_id": self.weights_id,
                                   "criteria": {c: m.to_json() for c, m in self.criteria.items()}}, indent=1))
        os.replace(tmp, p)   # never a half-written calibration

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Calibration":
        try:
            d = json.loads(Path(path).read_text())
            return cls(d["model"], {c: CriterionModel.from_json(m) for c, m in d["criteria"].items()},
                       str(d.get("weights_id") or ""))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CalibrationError(f"Cannot read the calibration {path} ({exc}); run `musicdesk calibrate` "
                                   "again.") from exc


def default_path() -> Path:
    """Where `musicdesk calibrate` keeps the teacher's calibration (the user data folder)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("musicdesk", appauthor=False)) / "calibration.json"


def calibrate(grades: Sequence[Grade], features_of: Callable[[str, str, str | None], np.ndarray], model: str,
              progress: Callable[[int, int], None] | None = None) -> Calibration:
    """Fit one model per graded criterion. `features_of(audio, score, part)` gives a take's features
    (the caller sets the calibration's `weights_id`: it knows which weights rated the takes)."""
    takes = sorted({(g.audio, g.score, g.part) for g in grades})
    feats: dict[tuple, np.ndarray] = {}
    for i, t in enumerate(takes):
        feats[t] = features_of(*t)
        if progress:
            progress(i + 1, len(takes))
    crits: dict[str, CriterionModel] = {}
    for c in sorted({g.criterion for g in grades}):
        rows = [g for g in grades if g.criterion == c]
        x = np.stack([feats[(g.audio, g.score, g.part)] for g in rows])
        crits[c] = fit_criterion(x, np.array([g.grade for g in rows]))
    return Calibration(model, crits)
