"""The melody lab's core (no Qt): measures as tick tokens, per-measure attributes, and the models that
vary and inpaint measures.

tokens.py: a monophonic melody <-> one row of 24 tick tokens per measure (as in AR-VAE / MeasureVAE);
attributes.py: what the sliders show and set (rhythmic complexity, pitch range, note density, ...);
io.py: melodies from and to MusicXML, MIDI and ABC.
"""
