"""Sample macros for ``cctui seed`` and ``cctui demo``, all pointing at one base URL.

The demo points ``base_url`` at its in-process receiver, so sending works offline; one
macro aims at ``/status/404`` on purpose, to show what a failed delivery looks like.
"""

from __future__ import annotations

from cctui.macros.model import Macro
from cctui.macros.presets import preset

#: Where the sample macros send by default: the address of ``cctui receiver``.
DEFAULT_RECEIVER_URL = "http://127.0.0.1:8765"

# base64("demo@example.com:demo-token"): a literal demo credential (masked when shown)
# so the Jira sample works without any environment variable.
DEMO_JIRA_AUTH = "ZGVtb0BleGFtcGxlLmNvbTpkZW1vLXRva2Vu"


def sample_macros(base_url: str) -> list[Macro]:
    """A few ready macros whose URLs start with ``base_url`` (no trailing slash needed)."""
    base = base_url.rstrip("/")
    return [
        preset("slack", name="slack-bugs", url=f"{base}/slack/services/T000/B000/XXXX",
               feedback_type="Bug Report"),
        preset("generic", name="generic-all", url=f"{base}/hooks/generic"),
        preset("jira", name="jira-critical", url=f"{base}/jira/rest/api/3/issue",
               feedback_type="Bug Report",
               headers=f"Authorization: Basic {DEMO_JIRA_AUTH}\nAccept: application/json",
               on_success={"status": "Escalated"}),
        preset("teams", name="teams-feedback", url=f"{base}/teams/workflows/feedback"),
        preset("discord", name="discord-ideas", url=f"{base}/discord/api/webhooks/1/token",
               feedback_type="Feature Request"),
        preset("generic", name="broken-404", url=f"{base}/status/404",
               description="Always answers 404: shows how a failed delivery looks."),
    ]


def sample_macro_dicts(base_url: str = DEFAULT_RECEIVER_URL) -> list[dict]:
    """The sample macros as the store keeps them (for :func:`cctui.core.seed.seed_store`)."""
    return [macro.to_dict() for macro in sample_macros(base_url)]
