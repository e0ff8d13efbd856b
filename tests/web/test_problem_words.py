"""Problems of a BPMN file in the owner's words, in Arabic and English (web.refusals.definition_problem_message).

Every code of ``engine.bpmn_problems`` has a sentence in both languages; an Arabic sentence shows
no Latin script outside its isolated parameters (element names, ids, handlers, technical detail);
the problems of diagrams drawn in other tools read that way on an Arabic page.
"""

from __future__ import annotations

import re

import pytest

from engine.bpmn_problems import ENGLISH, problem
from engine.definitions import check_definition
from tests.conftest import BPMN_DIR
from tests.web.test_refusals import ISOLATED, LATIN, _cases
from web import create_app
from web.refusals import PROBLEM_WORDS, WORDS, definition_problem_message

ARABIC = re.compile("[\u0600-\u06ff]")
BARE = re.compile("\u2068[^\u2068\u2069]*\u2069")


@pytest.fixture
def app(engine):
    return create_app({"TESTING": True, "SECRET_KEY": "problems"}, engine=engine)


def test_every_problem_code_is_worded_in_both_languages(app):
    assert set(ENGLISH) - set(PROBLEM_WORDS) == set(), "problem codes without wording in web/refusals.py"
    assert set(PROBLEM_WORDS) <= set(WORDS)
    for code in ENGLISH:
        for params in _cases(code):
            with app.test_request_context("/?lang=ar"):
                arabic = definition_problem_message(problem(code, **params))
            with app.test_request_context("/?lang=en"):
                english = definition_problem_message(problem(code, **params))
            stripped = BARE.sub("", arabic)
            for token in ISOLATED:
                stripped = stripped.replace(token, "")
            assert ARABIC.search(arabic) and not LATIN.search(stripped), (code, params, arabic)
            assert english != arabic and not ARABIC.search(english), (code, english)


def test_an_unworded_problem_code_would_fail(app, monkeypatch):
    """The check above is not vacuous: a code registered without wording is found."""
    monkeypatch.setitem(ENGLISH, "bpmn_new_kind", "something new")
    assert set(ENGLISH) - set(PROBLEM_WORDS) == {"bpmn_new_kind"}


@pytest.mark.parametrize("path", sorted((BPMN_DIR / "foreign").glob("*.bpmn")), ids=lambda p: p.stem)
def test_a_foreign_diagrams_problems_read_in_arabic(app, engine, path):
    problems = check_definition(engine, path.read_bytes(), path.name)
    assert problems
    for found in problems:
        with app.test_request_context("/?lang=ar"):
            arabic = definition_problem_message(found)
            from_dict = definition_problem_message(found.as_dict())
        assert arabic == from_dict
        assert ARABIC.search(arabic), arabic
        assert not LATIN.search(BARE.sub("", arabic)), arabic  # names, ids and details are isolated
        assert "0x" not in arabic


def test_a_problem_without_a_code_of_its_own_shows_its_detail(app):
    from engine.errors import DefinitionProblem

    with app.test_request_context("/?lang=ar"):
        shown = definition_problem_message(DefinitionProblem("something odd"))
    assert shown == "في المخطط مشكلة: \u2068something odd\u2069"
