"""
The shipped translations: every message of the French catalogue is translated (none empty,
none fuzzy, placeholders kept), the compiled .mo says exactly what the .po says (so a
catalogue edited without `compilemessages` is caught), and a real API error answered while
French is the active language comes back in French.

The service does not turn on `LocaleMiddleware`, so the language is activated in-process
around the request (as a project's own middleware or view would).
"""

import re
from pathlib import Path

import polib
import pytest
from django.utils import translation

import authgate

from ..conftest import PASSWORD, login

pytestmark = pytest.mark.portable

LOCALE = Path(authgate.__file__).parent / "locale"
LANGUAGES = sorted(p.name for p in LOCALE.iterdir() if (p / "LC_MESSAGES" / "django.po").is_file())
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}")


def catalogue(language: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))


def translations(entries: "polib._BaseFile") -> dict[str, tuple[str, ...]]:
    """msgid -> its translation(s), the header left out."""
    return {
        e.msgid: tuple(e.msgstr_plural[k] for k in sorted(e.msgstr_plural)) if e.msgid_plural else (e.msgstr,)
        for e in entries
        if e.msgid and not e.obsolete
    }


def test_french_is_shipped():
    assert "fr" in LANGUAGES


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_of_the_catalogue_is_translated_and_none_is_fuzzy(language):
    po = catalogue(language)
    assert len(po) > 100
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []
    assert not po.metadata_is_fuzzy
    assert po.percent_translated() == 100


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_translation_keeps_the_placeholders_of_its_message(language):
    for entry in catalogue(language):
        wanted = sorted(PLACEHOLDER.findall(entry.msgid))
        for text in translations([entry])[entry.msgid]:
            assert sorted(PLACEHOLDER.findall(text)) == wanted, entry.msgid


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_says_exactly_what_the_po_says(language):
    mo = polib.mofile(str(LOCALE / language / "LC_MESSAGES" / "django.mo"))
    assert translations(mo) == translations(catalogue(language))


def test_a_wrong_password_login_is_refused_in_french_when_french_is_active(api_client, make_user):
    make_user("alice")
    with translation.override("fr"):
        response = login(api_client, "alice", PASSWORD + "x")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Aucun compte actif ne correspond à ces identifiants.",
        "code": "invalid_credentials",
    }
    english = login(api_client, "alice", PASSWORD + "x")
    assert english.json()["detail"] == "No active account found with the given credentials."


def test_a_malformed_bearer_token_is_refused_in_french_when_french_is_active(api_client):
    with translation.override("fr"):
        response = api_client.get("/api/protected/", HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert response.json()["detail"] == "Le jeton n’est pas valide."
