"""cctui: triage product feedback in the terminal and push it anywhere with webhook macros."""

__version__ = "0.1.0"
