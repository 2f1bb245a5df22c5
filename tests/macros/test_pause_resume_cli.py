"""`macro pause` / `macro resume`: a paused macro refuses to send until resumed."""

from __future__ import annotations


def test_pause_blocks_send_and_resume_clears_it(cli):
    assert cli("seed", "--count", "10").exit_code == 0
    paused = cli("macro", "pause", "generic-all", "--reason", "channel archived")
    assert paused.exit_code == 0, paused.output

    refused = cli("send", "generic-all", "--all", "--dry-run")
    assert refused.exit_code == 2
    assert "paused" in refused.output and "channel archived" in refused.output

    assert cli("macro", "resume", "generic-all").exit_code == 0
    dry = cli("send", "generic-all", "--all", "--dry-run")
    assert dry.exit_code == 0, dry.output
    shown = cli("macro", "show", "generic-all").output
    assert "paused = true" not in shown


def test_resume_unknown_macro_exits_2(cli):
    result = cli("macro", "resume", "no-such-macro")
    assert result.exit_code == 2
    assert "no-such-macro" in result.output
