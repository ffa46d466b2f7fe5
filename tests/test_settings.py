"""Settings: read from the environment, validated, and every one documented in the README."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from checkin.settings import Settings, SettingsError

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [f.name for f in fields(Settings)])
def test_every_setting_is_in_the_readme(name):
    assert f"`CHECKIN_{name.upper()}`" in README


def test_environment_and_flags(tmp_path):
    settings = Settings.from_environ({"CHECKIN_PORT": "9000", "CHECKIN_ACCESS_LOG": "yes",
                                      "CHECKIN_DATA_DIR": str(tmp_path)}, port=9100)
    assert settings.port == 9100 and settings.access_log is True
    assert settings.db_path == tmp_path / "checkin.sqlite3"


@pytest.mark.parametrize("env, named", [
    ({"CHECKIN_PORT": "eighty"}, "CHECKIN_PORT"),
    ({"CHECKIN_PORT": "70000"}, "CHECKIN_PORT"),
    ({"CHECKIN_LANGUAGE": "fr"}, "CHECKIN_LANGUAGE"),
    ({"CHECKIN_TIME_ZONE": "Nowhere/City"}, "CHECKIN_TIME_ZONE"),
    ({"CHECKIN_HTTPS": "maybe"}, "CHECKIN_HTTPS"),
    ({"CHECKIN_SQLITE_SYNC": "off"}, "CHECKIN_SQLITE_SYNC"),
])
def test_unusable_values_are_named(env, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_environ(env)


def test_secret_key_is_generated_once_and_private(tmp_path):
    first = Settings(data_dir=tmp_path).with_secret()
    second = Settings(data_dir=tmp_path).with_secret()
    assert first.secret_key == second.secret_key and len(first.secret_key) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_public_url_never_points_at_a_wildcard_address():
    from checkin.tls import phone_addresses

    url = Settings(host="0.0.0.0", port=8443, https=True).public_url
    assert "0.0.0.0" not in url and url.startswith("https://") and url.endswith(":8443")
    found = phone_addresses()
    assert url == f"https://{found[0] if found else '127.0.0.1'}:8443"
    assert Settings(host="0.0.0.0", base_url="https://checkin.example/").public_url == "https://checkin.example"
