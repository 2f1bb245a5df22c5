"""cctui: triage product feedback in the terminal and push it anywhere with webhook macros."""

__version__ = "0.1.0"

#: Sent on every webhook request unless the macro sets its own (preview shows it too).
USER_AGENT = f"cctui/{__version__}"
