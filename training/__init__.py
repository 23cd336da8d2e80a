"""Offline training-data generation (and, later, training) for the score-informed assessment networks."""
