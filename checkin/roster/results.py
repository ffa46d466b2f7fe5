"""What a roster parse gives back: the checked rows (`RosterRow`), the per-row problems and warnings
(`RosterProblem`), the whole answer (`RosterParse`), and `RosterError` for a file that cannot be used at all.
Messages are made with gettext, so they are in the language current when the file is parsed.
`FIELDS` is the order of a row's fields, which the header layout and the table walk both follow.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..i18n import gettext as _

FIELDS = ("full_name", "unit", "position", "phone", "email", "member_code")


def field_label(name: str) -> str:
    """A field's name inside a sentence ("the {label} is empty"), in the current language."""
    labels = {
        "full_name": _("full name"), "family_name": _("family name"), "given_name": _("given name"),
        "unit": _("unit"), "position": _("position"), "phone": _("phone"), "email": _("email"),
        "member_code": _("member code"),
    }
    return labels.get(name, name.replace("_", " "))


@dataclass(frozen=True, slots=True)
class RosterRow:
    row_number: int
    full_name: str
    unit: str
    position: str
    phone: str
    email: str
    member_code: str


@dataclass(frozen=True, slots=True)
class RosterProblem:
    row_number: int
    field: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class RosterParse:
    rows: tuple[RosterRow, ...]
    problems: tuple[RosterProblem, ...]
    header_row: int
    columns: dict[str, str]
    warnings: tuple[RosterProblem, ...]
    sheet: str = ""  # worksheet read (xlsx only)


class RosterError(Exception):
    """The whole file cannot be read; `code` is stable, `message` tells the organiser what to do."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self):  # survives pickling, so the error of a parse in a worker process arrives whole
        return (type(self), (self.code, self.message))
