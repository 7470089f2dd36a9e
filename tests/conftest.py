"""Shared fixtures: users, an API client, and login helpers that go through the real API."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.cache import caches
from rest_framework.test import APIClient

from authgate import revocation, tokens
from authgate.settings import api_settings

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _fresh_state():
    """Every test starts with empty throttle counters and freshly read settings."""
    for cache in caches.all():
        try:
            cache.clear()
        except Exception:  # a cache whose server is down in a fault test
            pass
    api_settings.reload()
    tokens.reset_codec()
    revocation.reset_store()
    yield
    revocation.reset_store()


@pytest.fixture
def api_client():
    return APIClient()


_password_hashes = {}


@pytest.fixture
def make_user(db):
    """Create users, hashing each password once per hasher list: logins still verify with
    the configured hasher (Argon2), but creating the tenth user costs nothing."""

    def make(username="alice", password=PASSWORD, email=None, **extra):
        key = (password, tuple(settings.PASSWORD_HASHERS))
        if key not in _password_hashes:
            _password_hashes[key] = make_password(password)
        return get_user_model().objects.create(
            username=username, email=email or f"{username}@example.com", password=_password_hashes[key], **extra
        )

    return make


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def staff_user(make_user):
    return make_user("root", is_staff=True)


def login(client, username="alice", password=PASSWORD, **extra):
    """POST /api/auth/login/ and return the response (asserting nothing)."""
    return client.post("/api/auth/login/", {"username": username, "password": password, **extra}, format="json")


def bearer(access):
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


@pytest.fixture
def tokens_for(api_client):
    """Log a user in through the API; returns the JSON body (access, refresh, session_id...)."""

    def do_login(user, password=PASSWORD, **extra):
        response = login(api_client, user.get_username(), password, **extra)
        assert response.status_code == 200, response.content
        return response.json()

    return do_login


# -- services ----------------------------------------------------------------------
def pytest_runtest_setup(item):
    """Tests marked postgres/redis/multiprocess skip with a reason when the service is missing
    (and fail under CI=true, where it must be there). Runs before any fixture is set up."""
    from .support.topology import require_marked_services

    require_marked_services(item)
