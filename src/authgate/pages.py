"""The account page: plain HTML served by Django, driven by authgate.js.

The registration form asks for what the API's registration asks for: its inputs are the
writable fields of the registration serializer (`AUTHGATE["REGISTER_SERIALIZER"]`, which
follows the user model's USERNAME_FIELD, email and REQUIRED_FIELDS), in its order with the
password last, with its labels. Nothing on the page assumes a `username` field.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.generic import TemplateView
from rest_framework import serializers

from .conf import api_settings

# Everything the page needs comes from this origin: no inline script or style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)

# The browser's autofill names (HTML `autocomplete`) of fields that are often required.
AUTOCOMPLETE = {
    "first_name": "given-name",
    "last_name": "family-name",
    "full_name": "name",
    "name": "name",
    "phone": "tel",
    "phone_number": "tel",
    "date_of_birth": "bday",
    "birth_date": "bday",
}


def _input_type(field: serializers.Field[Any, Any, Any, Any]) -> str:
    if isinstance(field, serializers.EmailField):
        return "email"
    if (getattr(field, "style", None) or {}).get("input_type") == "password":
        return "password"
    if isinstance(field, serializers.BooleanField):
        return "checkbox"
    if isinstance(field, serializers.ChoiceField):
        return "select"
    if isinstance(field, serializers.DateField):
        return "date"
    if isinstance(field, (serializers.IntegerField, serializers.FloatField, serializers.DecimalField)):
        return "number"
    return "text"


def registration_fields() -> list[dict[str, Any]]:
    """The inputs of the registration form: [{name, label, type, required, autocomplete,
    max_length, choices, verbatim}] for each field the registration serializer takes."""
    model = get_user_model()
    email = model.get_email_field_name()
    fields = []
    for name, field in api_settings.REGISTER_SERIALIZER().fields.items():
        if field.read_only:
            continue
        kind = _input_type(field)
        if name == model.USERNAME_FIELD:
            autocomplete = "username"
        elif kind == "password":
            autocomplete = "new-password"
        elif name == email or kind == "email":
            autocomplete = "email"
        else:
            autocomplete = AUTOCOMPLETE.get(name, "off")
        fields.append(
            {
                "name": name,
                "label": field.label or name.replace("_", " ").capitalize(),
                "type": kind,
                "required": field.required,
                "autocomplete": autocomplete,
                "max_length": getattr(field, "max_length", None),
                "choices": list(field.choices.items()) if kind == "select" else [],
                "verbatim": kind in ("email", "password") or autocomplete == "username",
            }
        )
    # The password last, where a person expects it, whatever the serializer's order.
    return sorted(fields, key=lambda field: field["type"] == "password")


def login_label() -> str:
    """What the sign-in form asks for: the USERNAME_FIELD's name, and "or email" when the
    email is another field (it logs in too)."""
    model = get_user_model()
    username = model._meta.get_field(model.USERNAME_FIELD)
    label = str(getattr(username, "verbose_name", model.USERNAME_FIELD)).capitalize()
    if model.get_email_field_name() == model.USERNAME_FIELD:
        return label
    return f"{label} or email"


class AccountPageView(TemplateView):
    template_name = "authgate/account.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["registration_fields"] = registration_fields()
        context["login_label"] = login_label()
        context["username_field"] = get_user_model().USERNAME_FIELD
        return context

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = ensure_csrf_cookie(super().get)(request, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
