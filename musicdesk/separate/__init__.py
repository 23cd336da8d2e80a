"""Stems: score-informed separation of ensemble recordings into their parts (issue 20).

- `align`: every part of a multi-part score aligned to the ensemble recording at once;
- `nmf`: the learning-free baseline, score-informed NMF with harmonic templates and soft masks;
- `core`: `separate()`, the one entry point (stems, minus-one mixes, activity), and its data types;
- `mixer`: the stem player's music (mute, solo, faders, speed, bars, export), for the window;
- `cli`: `musicdesk separate`.
"""
