"""Django admin for second factors: enrolled authenticator apps listed (never their secret),
and support's "remove second factors" action, on that list and on the users' list."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import TOTPDevice
from .staff import remove_factors


def _remove_for(modeladmin: admin.ModelAdmin, request: HttpRequest, users: Any) -> None:
    devices = ended = 0
    for user in users:
        removed, sessions_ended = remove_factors(user, request=request)
        devices, ended = devices + removed, ended + sessions_ended
    modeladmin.message_user(
        request,
        ngettext(
            "Second factors removed from %(users)d account (%(devices)d device); %(sessions)d session(s) ended.",
            "Second factors removed from %(users)d accounts (%(devices)d devices); %(sessions)d session(s) ended.",
            len(users),
        )
        % {"users": len(users), "devices": devices, "sessions": ended},
        messages.SUCCESS,
    )


@admin.action(description=_("Remove every second factor of the selected users (ends their sessions)"))
def remove_second_factors(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    _remove_for(modeladmin, request, list(queryset))


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    readonly_fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    exclude = ("encrypted_secret", "last_step")
    actions = ["remove_users_factors"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(
        description=_("Remove every second factor of these devices' users (ends their sessions)"),
        permissions=["delete"],
    )
    def remove_users_factors(self, request: HttpRequest, queryset: QuerySet[TOTPDevice]) -> None:
        users = list({device.user_id: device.user for device in queryset.select_related("user")}.values())
        _remove_for(self, request, users)


def add_action_to_user_admin(site: admin.AdminSite = admin.site) -> bool:
    """Offer `remove_second_factors` on the users' list of `site`, when the user model is
    registered there (django.contrib.auth's UserAdmin, or the project's)."""
    user_admin = site._registry.get(get_user_model())
    if user_admin is None:
        return False
    current = list(user_admin.actions or [])
    if remove_second_factors not in current:
        user_admin.actions = [*current, remove_second_factors]
    return True
