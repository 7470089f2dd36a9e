"""
The settings (`authgate.conf`): a key authgate does not know is an error naming it (with the
closest known name), in `AUTHGATE` and in its nested dicts; a simplejwt name that authgate
does not have says what to do instead; every setting is typed; the service reads every
setting from the environment but the Python-only ones.
"""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from authgate import conf
from authgate.conf import DEFAULTS, DURATIONS, NESTED, api_settings


def test_a_misspelled_key_is_an_error_naming_it_and_the_closest_setting():
    with override_settings(AUTHGATE={"ACCES_TOKEN_LIFETIME": 60}):
        with pytest.raises(ImproperlyConfigured, match="'ACCES_TOKEN_LIFETIME': did you mean 'ACCESS_TOKEN_LIFETIME'"):
            _ = api_settings.ACCESS_TOKEN_LIFETIME
        with pytest.raises(ImproperlyConfigured, match="ACCES_TOKEN_LIFETIME"):
            api_settings.check()


def test_an_unknown_key_without_a_close_setting_is_an_error_all_the_same():
    with override_settings(AUTHGATE={"QWXZ": 1}):
        with pytest.raises(ImproperlyConfigured, match="unknown key 'QWXZ' \\(every setting"):
            _ = api_settings.LEEWAY


def test_a_misspelled_key_of_a_nested_setting_is_an_error():
    with override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USERIP": "3/15m"}}):
        with pytest.raises(
            ImproperlyConfigured, match="'LOGIN_THROTTLE'\\] has an unknown key 'USERIP': did you mean 'USER_IP'"
        ):
            _ = api_settings.LOGIN_THROTTLE


def test_a_nested_setting_keeps_the_defaults_of_the_keys_left_out():
    with override_settings(AUTHGATE={"MAIL_THROTTLE": {"IP": "3/1h"}}):
        assert api_settings.MAIL_THROTTLE == {"EMAIL": "5/1h", "IP": "3/1h"}
    assert api_settings.MAIL_THROTTLE == {"EMAIL": "5/1h", "IP": "20/1h"}


@pytest.mark.parametrize("name", ["BLACKLIST_AFTER_ROTATION", "USER_ID_CLAIM", "SLIDING_TOKEN_LIFETIME"])
def test_a_simplejwt_setting_authgate_does_not_have_says_what_to_do_instead(name):
    with override_settings(AUTHGATE={name: True}):
        with pytest.raises(ImproperlyConfigured, match=f"{name}'\\] is not an authgate setting: .+"):
            api_settings.check()


def test_a_bad_key_keeps_failing_until_it_is_fixed_then_the_settings_read_again():
    with override_settings(AUTHGATE={"LEEWAI": 1}):
        for _ in range(2):
            with pytest.raises(ImproperlyConfigured):
                _ = api_settings.LEEWAY
    with override_settings(AUTHGATE={"LEEWAY": 1}):
        assert api_settings.LEEWAY.total_seconds() == 1


def test_durations_take_seconds_and_refuse_anything_else():
    with override_settings(AUTHGATE={"REAUTH_WINDOW": "90"}):
        assert api_settings.REAUTH_WINDOW.total_seconds() == 90
    with override_settings(AUTHGATE={"REAUTH_WINDOW": "soon"}):
        with pytest.raises(ImproperlyConfigured, match="must be a timedelta or seconds"):
            _ = api_settings.REAUTH_WINDOW


def test_every_setting_is_typed_on_the_settings_class():
    assert set(conf.APISettings.__annotations__) == set(DEFAULTS)
    assert set(DURATIONS) <= set(DEFAULTS) and set(NESTED) <= set(DEFAULTS)


def test_the_service_reads_every_setting_from_the_environment_but_the_python_only_ones(monkeypatch):
    from server import settings as service

    for name, default in DEFAULTS.items():
        if name in NESTED:
            for scope in default:
                monkeypatch.setenv(f"AUTHGATE_{name}_{scope}", "3/1m")
        elif name in DURATIONS:
            monkeypatch.setenv(f"AUTHGATE_{name}", "7")
        elif isinstance(default, bool) or name in service.ENV_BOOLEANS:
            monkeypatch.setenv(f"AUTHGATE_{name}", "1")
        elif type(default) is int:
            monkeypatch.setenv(f"AUTHGATE_{name}", "3")
        elif isinstance(default, dict):
            monkeypatch.setenv(f"AUTHGATE_{name}", '{"kid": "key"}')
        else:
            monkeypatch.setenv(f"AUTHGATE_{name}", "one,two")
    read = service._authgate_from_env()
    skipped = service.ENV_PYTHON_ONLY | (service.ENV_OWN_VARIABLES - {"REDIS_URL"})
    assert set(read) == set(DEFAULTS) - skipped
    assert read["LEEWAY"].total_seconds() == 7 and read["ROTATE_REFRESH_TOKENS"] is True
    assert read["AUTH_HEADER_TYPES"] == ["one", "two"] and read["WEBAUTHN_ORIGINS"] == ["one", "two"]
    assert read["SESSION_CACHE_SIZE"] == 3 and read["VERIFYING_KEYS"] == {"kid": "key"}
    assert read["LOGIN_THROTTLE"] == {"USER_IP": "3/1m", "IP": "3/1m"}
    assert read["ISSUER"] == "one,two"
    with override_settings(AUTHGATE=read):
        api_settings.check()  # every name it reads is a setting
