"""Every message the pages and handlers show has a Vietnamese translation; language choice works."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from checkin import i18n

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def extracted_messages():
    found = set()
    method_map = [("checkin/**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map=options, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return sorted(m for m in found if m)


def problem_messages():
    """The fixed messages of Problem(status, code, message): HTML error pages show them translated."""
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "checkin"), [("**.py", "python")], keywords={"Problem": (3,)}
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return sorted(m for m in found if m)


def test_every_problem_message_has_a_vietnamese_translation():
    vietnamese = i18n.load().get("vi")
    missing = [m for m in problem_messages() if vietnamese.gettext(m) == m]
    assert missing == [], "add these to a .po file under checkin/locale/vi/LC_MESSAGES/"


def test_every_message_has_a_vietnamese_translation():
    vietnamese = i18n.load().get("vi")
    missing = [m for m in extracted_messages() if vietnamese.gettext(m) == m]
    assert missing == [], "add these to a .po file under checkin/locale/vi/LC_MESSAGES/"


def test_a_message_in_two_catalogues_has_one_translation():
    """The catalogues are merged into one: a message translated two ways in two files would show whichever file
    happens to come last. The same English text means the same thing everywhere, or it needs other words."""
    from babel.messages.pofile import read_po

    translations: dict[str, dict[str, str]] = {}
    for po in sorted((ROOT / "checkin" / "locale" / "vi" / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            for message in read_po(fh, locale="vi"):
                key = message.id[0] if isinstance(message.id, tuple) else message.id
                if key and message.string:
                    translations.setdefault(key, {})[po.name] = message.string
    differing = {k: v for k, v in translations.items() if len(set(v.values())) > 1}
    assert differing == {}


@pytest.mark.parametrize(
    "cookie, header, expected",
    [
        (None, None, "vi"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "fr-FR,fr;q=0.9,en;q=0.5", "en"),
        (None, "fr-FR", "vi"),
        (None, "en;q=0.4,vi;q=0.8", "vi"),
        ("en", "vi", "en"),
        ("xx", "en", "en"),
        (None, "en;q=abc", "vi"),
    ],
)
def test_language_choice(cookie, header, expected):
    assert i18n.choose_language(cookie, header, "vi") == expected
