"""Languages: Vietnamese (default) and English, from gettext catalogues read at start-up.

The language of a request is chosen once (cookie, then Accept-Language, then the default) and kept
in a context variable that the templates' gettext reads.
"""

from __future__ import annotations

import contextvars
from importlib import resources
from io import BytesIO

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from .settings import LANGUAGES

COOKIE = "lang"
_current: contextvars.ContextVar[str] = contextvars.ContextVar("lang", default="vi")


class Catalogues:
    """The compiled catalogues, one per language (English is the source language)."""

    def __init__(self) -> None:
        self._translations: dict[str, NullTranslations] = {"en": NullTranslations()}
        folder = resources.files("checkin") / "locale"
        for lang in LANGUAGES:
            if lang == "en":
                continue
            merged = None
            # One catalogue file per area of the product (core, usher, organiser, ...), merged here.
            for po in sorted((folder / lang / "LC_MESSAGES").iterdir(), key=lambda p: p.name):
                if not po.name.endswith(".po"):
                    continue
                with po.open("rb") as fh:
                    catalog = read_po(fh, locale=lang)
                buffer = BytesIO()
                write_mo(buffer, catalog)
                buffer.seek(0)
                translations = Translations(buffer)
                merged = translations if merged is None else merged.merge(translations)
            if merged is not None:
                self._translations[lang] = merged

    def get(self, lang: str) -> NullTranslations:
        return self._translations.get(lang, self._translations["en"])


_catalogues: Catalogues | None = None


def load() -> Catalogues:
    global _catalogues
    if _catalogues is None:
        _catalogues = Catalogues()
    return _catalogues


def current_language() -> str:
    return _current.get()


def set_language(lang: str) -> contextvars.Token:
    return _current.set(lang)


def reset_language(token: contextvars.Token) -> None:
    _current.reset(token)


def gettext(message: str) -> str:
    return load().get(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return load().get(_current.get()).ngettext(singular, plural, n)


_ = gettext


def choose_language(cookie: str | None, accept_language: str | None, default: str) -> str:
    """The cookie the user set wins; then the browser's preference; then the site default."""
    if cookie in LANGUAGES:
        return cookie
    if accept_language:
        ranked = []
        for index, part in enumerate(accept_language.split(",")):
            tag, _sep, params = part.strip().partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            primary = tag.strip().lower().split("-")[0]
            if primary in LANGUAGES and quality > 0:
                ranked.append((-quality, index, primary))
        if ranked:
            return min(ranked)[2]
    return default


class LanguageMiddleware:
    """Pure ASGI: pick the request's language and make it current for the request's duration."""

    def __init__(self, app, default: str):
        self.app = app
        self.default = default

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or ())
        cookie = _cookie(headers.get(b"cookie", b"").decode("latin-1"), COOKIE)
        lang = choose_language(cookie, headers.get(b"accept-language", b"").decode("latin-1"), self.default)
        scope.setdefault("state", {})["lang"] = lang
        token = set_language(lang)
        try:
            await self.app(scope, receive, send)
        finally:
            reset_language(token)


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _sep, value = part.strip().partition("=")
        if key == name:
            return value
    return None
