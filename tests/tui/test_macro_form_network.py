"""The macro form and issue 10: a verify = false warning in its preview, and a header that
frames the request (Host) refused on save with a toast naming it."""

from __future__ import annotations

from cctui.macros import Macro


async def test_form_warns_for_verify_false_and_refuses_a_host_header(app_factory, tui):
    from cctui.tui.widgets.macro_header_editor import MacroHeaderEditor

    make, store = app_factory
    store.macro_put(Macro.from_dict({"name": "insecure", "url": "https://127.0.0.1:1/hook", "verify": False,
                                     "headers": "X-Source: cctui-((id))",
                                     "body": '{"t": "((title))"}'}).to_dict())
    app = make()
    async with app.run_test(size=(160, 50)) as pilot:
        form = await tui.open_macro_form(pilot, "insecure")
        await tui.wait_for(pilot, lambda: "verify = false" in str(form.query_one("#preview-warnings").render()),
                           "the verify warning")
        shown = str(form.query_one("#preview-request").render())
        assert "X-Source: cctui-" in shown and "((id))" not in shown  # the header tag rendered
        editor = form.query_one(MacroHeaderEditor)
        await editor.add_row()
        await pilot.pause()
        rows = list(editor.query("HeaderRow"))
        rows[-1].query_one(".header-name").value = "Host"
        rows[-1].query_one(".header-value").value = "evil.example"
        await pilot.pause()
        form.action_save()
        wanted = "a macro may not set the header 'Host' (cctui sets Host from the url)."
        await tui.wait_for(pilot, lambda: any(wanted in str(n.message) for n in app._notifications),
                           "the toast naming the header")
        assert "Host" not in store.macro_get("insecure")["headers"]  # data untouched
        assert store.macro_get("insecure")["verify"] is False
