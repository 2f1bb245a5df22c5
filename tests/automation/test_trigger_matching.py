"""Which macros a change event fires, and over which ids (the planning function alone)."""

from cctui.automation.triggers import Triggers, describe_trigger, matching_ids, trigger_kinds
from cctui.core.records import Schema
from cctui.store.events import ChangeEvent


class MacroShelf:
    """Only what ``Triggers.plan`` reads from a store: the macro list."""

    def __init__(self, *macros):
        self.macros = list(macros)

    def macros_all(self):
        return self.macros


CRITICAL = {"name": "escalate", "trigger": {"on": ["submit", "modify"], "filter": "severity:critical"},
            "on_success": {"status": "Escalated"}}
ESCALATED = {"name": "notify", "trigger": {"on": ["modify"], "filter": "status:escalated"},
             "on_success": {"severity": "Critical"}}


def bug(n, **fields):
    return {"id": f"BUG-{n:04d}", "type": "Bug Report", "title": f"bug {n}", "severity": "Low",
            "status": "New", **fields}


def submit(*records):
    return ChangeEvent("submit", list(records), [None] * len(records), [set(r) for r in records])


def modify(pairs, by_macro=None):
    before = [b for b, _ in pairs]
    after = [{**b, **a} for b, a in pairs]
    changed = [set(a) for _, a in pairs]
    return ChangeEvent("modify", after, before, changed, by_macro=by_macro)


def plan(event, *macros):
    return Triggers(MacroShelf(*macros), lambda *a: None, schema=Schema()).plan(event)


def test_submit_fires_only_for_matching_records_in_one_run():
    event = submit(bug(1, severity="Critical"), bug(2), bug(3, severity="Critical"))
    assert plan(event, CRITICAL) == [("escalate", ["BUG-0001", "BUG-0003"])]


def test_kind_not_listed_does_not_fire():
    assert plan(submit(bug(1, status="Escalated")), ESCALATED) == []


def test_modify_into_the_filter_fires_and_a_bookkeeping_only_change_does_not():
    assert plan(modify([(bug(1), {"severity": "Critical"})]), CRITICAL) == [("escalate", ["BUG-0001"])]
    touched = ChangeEvent("modify", [bug(1, severity="Critical")], [bug(1, severity="Critical")], [{"modified"}])
    assert plan(touched, CRITICAL) == []
    assert plan(modify([(bug(1), {"title": "still low"})]), CRITICAL) == []


def test_modify_fires_only_when_a_watched_field_changed():
    already = bug(1, severity="Critical")
    assert plan(modify([(already, {"jira_key": "CC-1"})]), CRITICAL) == []
    assert plan(modify([(already, {"severity": "Critical", "votes": 2})]), CRITICAL) == [
        ("escalate", ["BUG-0001"])]
    anything = {"name": "any", "trigger": {"on": ["modify"]}}
    assert plan(modify([(already, {"jira_key": "CC-1"})]), anything) == [("any", ["BUG-0001"])]
    words = {"name": "words", "trigger": {"on": ["modify"], "filter": "crash"}}
    assert plan(modify([(bug(2), {"description": "a crash"})]), words) == [("words", ["BUG-0002"])]
    assert plan(modify([(bug(3, title="crash"), {"votes": 3})]), words) == []


def test_a_macro_never_fires_on_its_own_update():
    event = modify([(bug(1, severity="Critical"), {"status": "Escalated"})], by_macro="escalate")
    assert plan(event, CRITICAL) == []


def test_ping_pong_between_two_macros_stops():
    calls = []
    triggers = Triggers(MacroShelf(CRITICAL, ESCALATED), lambda *a: calls.append(a), schema=Schema())
    record = bug(1, severity="Critical")
    triggers(submit(record))                                    # escalate
    triggers(modify([(record, {"status": "Escalated"})], by_macro="escalate"))   # -> notify
    triggers(modify([({**record, "status": "Escalated"}, {"severity": "Critical"})],
                    by_macro="notify"))                         # escalate again? no: cycle
    assert [name for name, _, _ in calls] == ["escalate", "notify"]


def test_chains_stop_at_max_depth():
    macros = [{"name": f"m{i}", "trigger": {"on": ["modify"], "filter": ""}} for i in range(5)]
    warnings = []
    triggers = Triggers(MacroShelf(*macros), lambda *a: None, schema=Schema(), max_depth=2,
                        warn=warnings.append)
    runs = triggers.plan(modify([(bug(1), {"title": "t"})], by_macro="m0"))
    assert runs == [(f"m{i}", ["BUG-0001"]) for i in range(1, 5)]
    assert triggers.plan(modify([(bug(1), {"title": "u"})], by_macro="m1")) == []
    assert "reached the limit of 2 macros" in warnings[0]


def test_paused_users_and_other_type_macros_are_skipped():
    event = submit(bug(1, severity="Critical"))
    assert plan(event, {**CRITICAL, "paused": True}) == []
    assert plan(event, {**CRITICAL, "target": "users"}) == []
    assert plan(event, {**CRITICAL, "feedback_type": "Feature Request"}) == []
    assert plan(event, {**CRITICAL, "feedback_type": "bug"}) == [("escalate", ["BUG-0001"])]


def test_a_bad_filter_warns_and_does_not_stop_other_macros():
    warnings = []
    broken = {"name": "broken", "trigger": {"on": ["submit"], "filter": "votes:>lots"}}
    triggers = Triggers(MacroShelf(broken, CRITICAL), lambda *a: None, schema=Schema(),
                        warn=warnings.append)
    assert triggers.plan(submit(bug(1, severity="Critical"))) == [("escalate", ["BUG-0001"])]
    assert warnings and "broken" in warnings[0]


def test_trigger_helpers_for_screens():
    assert trigger_kinds({"trigger": {"on": "Submit"}}) == ("submit",)
    assert describe_trigger(CRITICAL) == "on submit, modify where severity:critical"
    assert describe_trigger({"name": "x"}) == ""
    assert matching_ids({"name": "x"}, submit(bug(1))) == []
