"""Tab into a masked header value never selects it: typing cannot replace a secret unseen.

QA: in the macro form, tab from ``Authorization`` into its masked value selected the whole
value (Textual's select-on-focus), so the next key replaced the stored secret while the
field still showed a row of dots. A masked value now keeps its text on focus with the
cursor at its end: a typed key shows as one more dot.
"""

from __future__ import annotations

from textual.widgets import Input

SMALL = (80, 24)
HEADERS = "Content-Type: application/json\nAuthorization: Bearer ${HOOK_TOKEN}"


async def test_tab_into_a_masked_value_keeps_the_secret(make_app, tui):
    app = make_app()
    app.store.macro_put({"name": "hook", "target": "feedback", "method": "POST",
                         "url": "https://example.com/hook", "format": "json", "body": "{}",
                         "headers": HEADERS})
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        form = await tui.open_macro_form(pilot, "hook")
        rows = {row.pair[0]: row for row in form.query("HeaderRow")}
        secret = rows["Authorization"].query_one(".header-value", Input)
        plain = rows["Content-Type"].query_one(".header-value", Input)
        assert secret.password and not plain.password

        rows["Authorization"].query_one(".header-name", Input).focus()
        await pilot.pause()
        await pilot.press("tab")
        await tui.wait_for(pilot, lambda: form.focused is secret, "the masked value")
        assert secret.selection.is_empty, secret.selection
        await pilot.press("x")
        assert secret.value == "Bearer ${HOOK_TOKEN}x"  # added to, not replaced
        await pilot.press("backspace")
        assert rows["Authorization"].pair == ("Authorization", "Bearer ${HOOK_TOKEN}")

        # A header renamed into a secret one gets the same protection at once.
        name = rows["Content-Type"].query_one(".header-name", Input)
        name.value = "X-Api-Key"
        await pilot.pause()
        assert plain.password
        name.focus()
        await pilot.pause()
        await pilot.press("tab")
        await tui.wait_for(pilot, lambda: form.focused is plain, "the newly masked value")
        assert plain.selection.is_empty
        await pilot.press("y")
        assert plain.value == "application/jsony"
