"""The macro form and ((tags)) in the url: the live preview shows the url rendered for
the preview record; a tag in the host is flagged under the field and refused on save with
a toast naming the key, the stored macro untouched."""

from __future__ import annotations

from urllib.parse import quote

from cctui.macros import Macro

URL = "https://h.example/items/((id))/notes?t=((title | lower))"


async def test_form_preview_renders_url_tags_and_save_refuses_a_tag_in_the_host(app_factory, tui):
    from textual.widgets import Input

    from cctui.tui.widgets.macro_preview import MacroPreview

    make, store = app_factory
    store.macro_put(Macro.from_dict({"name": "notes", "url": URL, "body": '{"t": "((title))"}'}).to_dict())
    app = make()
    async with app.run_test(size=(160, 50)) as pilot:
        form = await tui.open_macro_form(pilot, "notes")
        preview = form.query_one(MacroPreview)
        await tui.wait_for(pilot, lambda: preview.record is not None
                           and "/items/" in str(form.query_one("#preview-request").render()), "the preview")
        record = preview.record
        wanted = f"https://h.example/items/{record['id']}/notes?t={quote(record['title'].lower(), safe='')}"
        shown = str(form.query_one("#preview-request").render())
        assert wanted in shown and "((" not in shown, shown
        assert "-invalid" not in form.query_one("#url-hint").classes  # spaces inside (( )) are fine

        form.query_one("#f-url", Input).value = "https://((title)).example/x"
        await tui.wait_for(pilot, lambda: "only in the path or the query" in str(form.query_one("#url-hint").render()),
                           "the url hint")
        form.action_save()
        wanted = "key 'url': a ((tag)) or {% %} block may stand only in the path or the query, after the host"
        await tui.wait_for(pilot, lambda: any(wanted in str(n.message) for n in app._notifications),
                           "the toast naming the key")
        assert store.macro_get("notes")["url"] == URL  # data untouched
