"""ctrl+s in the macro form runs the render-cost check that `cctui macro add` runs (the
body tried on one record, off the event loop): a too-expensive body is refused with a
toast naming the problem, and the stored macro is left as it was."""

from __future__ import annotations

from cctui.macros import Macro

EXPENSIVE = '{"t": "(( \'x\'*10**9 ))"}'


async def test_saving_a_too_expensive_body_is_refused_with_a_toast(app_factory, tui):

    make, store = app_factory
    stored = Macro.from_dict({"name": "cheap", "url": "http://127.0.0.1:9/hook",
                              "body": '{"t": "((title))"}'}).to_dict()
    store.macro_put(stored)
    app = make()
    async with app.run_test(size=(160, 50)) as pilot:
        form = await tui.open_macro_form(pilot, "cheap")
        body = form.query_one("#f-body")
        body.load_text(EXPENSIVE)
        body.focus()
        await pilot.press("ctrl+s")
        await tui.wait_for(pilot, lambda: any(("template too expensive" in str(n.message) or "Saved" in str(n.message))
                                              for n in app._notifications), "the save's toast")
        [note] = [n for n in app._notifications if "template too expensive" in str(n.message)]
        assert note.severity == "error"
        assert str(note.message).startswith("macro cheap: template too expensive: ")
        assert not any("Saved" in str(n.message) for n in app._notifications)
        assert form.dirty  # the edit is still in the form, not taken as saved
    assert store.macro_get("cheap") == stored  # data untouched
