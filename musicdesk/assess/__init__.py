"""Score-informed performance assessment networks (PCConvNet, SIConvNet, JointEmbedNet, DistMatNet).

features.py: model inputs (29 ms pitch contour, DTW-aligned score, distance image); models.py: the
networks; weights.py: safe loading of shipped weights; predict.py: `Assessor` and `assess()` (device
cuda -> mps -> cpu, batched over chunks); calibrate.py: a teacher's own grading learnt from graded takes.
Training lives in training/ at the repository root.
"""
