"""Score-informed performance assessment networks (PCConvNet, SIConvNet, JointEmbedNet, DistMatNet).

features.py: model inputs (29 ms pitch contour, DTW-aligned score, distance image); models.py: the
networks; weights.py: safe loading of shipped weights; predict.py: `Assessor` and `assess()` (device
cuda -> mps -> cpu, batched over chunks); numpy_net.py: the contour-encoder networks' CPU forward pass
without torch; preload.py: torch's networks loading in a child process; calibrate.py: a teacher's own
grading learnt from graded takes. Training lives in training/ at the repository root.
"""

# Here, not in models.py, so that the window's settings can name the networks without importing torch.
DISPLAY_NAMES = {"siconvnet_delta": "SIConvNet-Delta", "siconvnet": "SIConvNet", "jointembednet": "JointEmbedNet",
                 "distmatnet": "DistMatNet", "pcconvnet": "PCConvNet"}
CRITERIA = ("note_accuracy", "rhythmic_accuracy", "intonation")   # what every network rates
DEFAULT_MODEL = "siconvnet_delta"   # the best on the validation split (see models/README.md)
