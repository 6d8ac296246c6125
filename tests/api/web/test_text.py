"""English and Danish texts."""

from __future__ import annotations

import pytest

from api.web.text import DEFAULT_LANGUAGE, Language, language_of, texts


def test_both_languages_have_every_text() -> None:
    english, danish = texts(Language.EN), texts(Language.DA)
    assert english.keys() == danish.keys()
    assert all(english.values())
    assert all(danish.values())
    assert (english["worklist"], danish["worklist"]) == ("Worklist", "Arbejdsliste")


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [("da", Language.DA), ("en", Language.EN), (None, DEFAULT_LANGUAGE), ("xx", DEFAULT_LANGUAGE)],
)
def test_language_of_a_cookie(cookie: str | None, expected: Language) -> None:
    assert language_of(cookie) is expected
