"""A record whose body is too expensive spends one render budget, not two."""

from __future__ import annotations

import pytest

from cctui.delivery.prepared import RequestFactory
from cctui.macros import Macro, budget
from cctui.macros.budget import TemplateTooExpensive
from cctui.store import open_store

SLOW = "{% for a in range(votes) %}{% for b in range(votes) %}{% endfor %}{% endfor %}ok"


def test_a_record_too_expensive_to_render_is_rendered_once(data_dir, monkeypatch):
    store = open_store(data_dir)
    schema = store.schema
    cheap, costly = store.feedback_add([schema.feedback({"type": "bug", "title": "a", "votes": 1}),
                                        schema.feedback({"type": "bug", "title": "b", "votes": 100000})])
    macro = Macro.from_dict({"name": "slow", "url": "http://127.0.0.1:9/", "format": "text", "body": SLOW})
    factory = RequestFactory(macro, store, None)
    assert factory.prepare(cheap).body == b"ok"  # the run's fixed parts are worked out
    monkeypatch.setattr(budget, "MAX_SECONDS", 0.2)
    renders = []
    real_init = budget.Budget.__init__
    monkeypatch.setattr(budget.Budget, "__init__", lambda self, *a: (renders.append(1), real_init(self, *a))[1])
    with pytest.raises(TemplateTooExpensive, match="macro slow: template too expensive: it did not finish"):
        factory.prepare(costly)
    assert len(renders) == 1
    store.close()
