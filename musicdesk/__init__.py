"""musicdesk: a practice and exploration studio for musicians (headless core)."""
__version__ = "0.1.0"
