"""The shell: screens 1-4, help, palette, theme persistence and the user's keymap."""

from __future__ import annotations

from cctui.config import load_config
from cctui.tui.screens.detail import DetailScreen
from cctui.tui.screens.help import HelpScreen


async def test_number_keys_switch_screens(make_app, tui):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        for key, mode, name in (("2", "macros", "MacrosScreen"), ("3", "dispatch", "DispatchScreen"),
                                ("4", "logs", "LogsScreen"), ("1", "feedback", "FeedbackScreen")):
            await pilot.press(key)
            await pilot.pause()
            assert app.current_mode == mode
            assert type(app.screen).__name__ == name


async def test_number_keys_type_into_the_filter_instead_of_switching(make_app, tui):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        await pilot.press("slash", "2", "3")
        await pilot.pause()
        assert app.current_mode == "feedback"
        assert app.screen.query_one("#filter-input").value == "23"


async def test_help_lists_every_binding_of_the_current_screen(make_app, tui):
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await tui.loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-keys").render())
        for ident in ("mark", "filter", "mark-all", "clear-marks", "run-macro", "sort-column",
                      "screen-macros", "help", "quit", "cursor-down", "open"):
            assert ident in text, ident
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_theme_from_palette_is_remembered_in_the_config(make_app, config_file, tui):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        assert app.theme == "cctui-dusk"
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Theme: cctui-paper")
        await tui.wait_for(pilot, lambda: bool(app.screen.query("CommandList")) and app.screen.query_one("CommandList").option_count > 0
                           and "cctui-paper" in str(app.screen.query_one("CommandList").get_option_at_index(0).prompt))
        await pilot.press("enter")
        await tui.wait_for(pilot, lambda: app.theme == "cctui-paper")
    assert load_config(config_file).theme == "cctui-paper"


async def test_theme_option_wins_over_config_and_is_saved(make_app, config_file, tui):
    app = make_app('theme = "cctui-paper"\n', theme="cctui-contrast")
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        assert app.theme == "cctui-contrast"
    assert load_config(config_file).theme == "cctui-contrast"


async def test_unknown_theme_falls_back_with_a_message(make_app, tui):
    app = make_app('theme = "no-such-theme"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        assert app.theme == "cctui-dusk"
        assert any("no-such-theme" in str(n.message) for n in app._notifications)


async def test_user_theme_from_config_dir_is_registered(make_app, config_file, tui):
    themes = config_file.parent / "themes"
    themes.mkdir()
    (themes / "mine.toml").write_text('name = "mine"\nprimary = "#ff0000"\n')
    (themes / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    app = make_app('theme = "mine"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        assert app.theme == "mine"
        assert any("broken.toml" in str(n.message) for n in app._notifications)


async def test_keymap_in_config_remaps_a_binding(make_app, tui):
    app = make_app('[keymap]\nmark = "x"\n"screen-logs" = "L"\nnot-a-binding = "z"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        first = tui.table(app).current_id
        await pilot.press("x")
        await pilot.pause()
        assert app.screen.marks == {first}
        await pilot.press("space")  # no longer bound to mark
        await pilot.pause()
        assert app.screen.marks == {first}
        assert any("not-a-binding" in str(n.message) for n in app._notifications)
        await pilot.press("L")
        await pilot.pause()
        assert app.current_mode == "logs"


async def test_open_record_is_public_and_sets_the_current_record(make_app, tui):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        await pilot.press("3")
        app.open_record("BUG-0002")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.current_mode == "feedback"
        assert app.current_record_id == "BUG-0002"
        await tui.wait_for(pilot, lambda: "Export to CSV" in str(app.screen.query_one("#detail-title").render()))


async def test_header_shows_data_dir_and_counts(make_app, tui):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        await tui.wait_for(pilot, lambda: "24 feedback" in str(app.screen.query_one("#header").render()))
        header = str(app.screen.query_one("#header").render())
        assert "/data/demo" in header and "3 users" in header
        assert "24 of 24" in tui.status_text(app)
