"""
The account page's registration form is drawn from the registration serializer
(`AUTHGATE["REGISTER_SERIALIZER"]`): with Django's user model it asks for the username, the
email and the password; a project's serializer that asks for more gets those inputs too,
each with its label and a place for its error. (An email-as-username model:
tests/custom_user/scenarios.py and, in Chromium, tests/browser/test_custom_user_page.py.)
"""

import re

import pytest
from rest_framework import serializers

from authgate.serializers import RegisterSerializer

pytestmark = pytest.mark.portable


class WithNames(RegisterSerializer):
    first_name = serializers.CharField(max_length=150)
    newsletter = serializers.BooleanField(required=False, label="Send me the newsletter")

    class Meta(RegisterSerializer.Meta):
        fields = [*RegisterSerializer.Meta.fields, "first_name", "newsletter"]

    def validate(self, attrs):
        attrs.pop("newsletter", None)
        return super().validate(attrs)


def form(page, name):
    start = page.index(f'<form id="{name}"')
    return page[start : page.index("</form>", start)]


def inputs(html):
    return re.findall(r'<input name="(\w+)"[^>]* type="(\w+)" autocomplete="([\w-]+)"', html)


def labels(html):
    return re.findall(r'<span class="label">([^<]+)</span>', html)


def test_the_default_user_model_asks_for_username_email_and_password(api_client, db):
    page = api_client.get("/").content.decode()
    register = form(page, "register-form")
    assert inputs(register) == [
        ("username", "text", "username"),
        ("email", "email", "email"),
        ("password", "password", "new-password"),
    ]
    assert labels(register) == ["Username", "Email", "Password"]
    assert re.findall(r'data-error-for="(\w+)"', register) == ["username", "email", "password"]
    assert 'data-username-field="username"' in register
    assert labels(form(page, "login-form")) == ["Username or email", "Password"]


def test_a_projects_registration_serializer_draws_the_form(api_client, db, settings):
    settings.AUTHGATE = {**getattr(settings, "AUTHGATE", {}), "REGISTER_SERIALIZER": f"{__name__}.WithNames"}
    register = form(api_client.get("/").content.decode(), "register-form")
    assert inputs(register) == [
        ("username", "text", "username"),
        ("email", "email", "email"),
        ("first_name", "text", "given-name"),
        ("newsletter", "checkbox", "off"),
        ("password", "password", "new-password"),
    ]
    assert labels(register)[-3:] == ["First name", "Send me the newsletter", "Password"]
    created = api_client.post(
        "/api/auth/register/",
        {"username": "nell", "email": "nell@example.com", "password": "correct-horse-battery-9", "first_name": ""},
        format="json",
    )
    assert created.status_code == 400 and set(created.json()) == {"first_name"}
