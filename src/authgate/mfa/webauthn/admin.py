"""Django admin for security keys and passkeys: listed read-only (never a public key or
a user handle shown), with support's "remove every second factor" action of their users."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ..admin import _remove_for
from .models import WebAuthnCredential


@admin.register(WebAuthnCredential)
class WebAuthnCredentialAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "backup_eligible", "discoverable", "created_at", "last_used_at")
    list_filter = ("backup_eligible", "discoverable")
    search_fields = ("name",)
    fields = ("user", "name", "transports", "discoverable", "backup_eligible", "backed_up", "aaguid", "sign_count")
    readonly_fields = fields
    actions = ["remove_users_factors"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(
        description=_("Remove every second factor of these keys' users (ends their sessions)"),
        permissions=["delete"],
    )
    def remove_users_factors(self, request: HttpRequest, queryset: QuerySet[WebAuthnCredential]) -> None:
        users = list({key.user_id: key.user for key in queryset.select_related("user")}.values())
        _remove_for(self, request, users)
