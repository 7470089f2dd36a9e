"""Django admin: sessions and static tokens listed and revocable (through the lifecycle);
the security activity trail listed, with an activity dashboard (charts drawn as SVG); the
current lockouts listed, liftable; verified email addresses listed."""

from datetime import timedelta
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import activity, charts, counters, identity, recovery, sessions, static_tokens
from .models import (
    Activity,
    AttemptCounterQuerySet,
    EmailAddress,
    Lockout,
    MigratedToken,
    Session,
    SessionQuerySet,
    StaticToken,
)

# Search by the user's login name and email, whatever the (custom) user model calls them.
_User = get_user_model()
USER_SEARCH = tuple(
    dict.fromkeys(
        f"user__{name}"
        for name in (_User.USERNAME_FIELD, _User.get_email_field_name())
        if any(f.name == name for f in _User._meta.fields)
    )
)


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("user", "device", "ip", "created_at", "last_used_at", "expires_at", "ended_at", "end_reason")
    list_filter = ("end_reason", ("ended_at", admin.EmptyFieldListFilter))
    search_fields = (*USER_SEARCH, "device", "ip")
    readonly_fields = [f.name for f in Session._meta.fields]
    actions = ["end_selected_sessions"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    # Without `permissions`, anyone who may merely view the list could run the action.
    @admin.action(description="End selected sessions (their tokens stop working now)", permissions=["change"])
    def end_selected_sessions(self, request: HttpRequest, queryset: SessionQuerySet) -> None:
        ended = sessions.end_sessions(queryset, sessions.ADMIN)
        self.message_user(request, f"{ended} session(s) ended.", messages.SUCCESS)

    # Deleting a row must revoke it first, or a Redis cache would not hear of it.
    def delete_model(self, request: HttpRequest, obj: Session) -> None:
        sessions.end_sessions(Session.objects.filter(pk=obj.pk), sessions.ADMIN)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        # The admin's rows come from Session.objects: a SessionQuerySet.
        sessions.end_sessions(cast(SessionQuerySet, queryset), sessions.ADMIN)
        super().delete_queryset(request, queryset)


@admin.register(StaticToken)
class StaticTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "prefix", "created_at", "last_used_at", "expires_at")
    search_fields = (*USER_SEARCH, "name", "prefix")
    readonly_fields = ("user", "name", "prefix", "digest", "created_at", "last_used_at", "expires_at")
    actions = ["revoke_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are shown once, through the API or the command

    @admin.action(description="Revoke selected tokens", permissions=["delete"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[StaticToken]) -> None:
        count = queryset.count()
        for token in queryset:
            static_tokens.revoke(token)
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)


@admin.register(EmailAddress)
class EmailAddressAdmin(admin.ModelAdmin):
    """Which address of each user was verified. Support can vouch for the users' current
    addresses (an action); the rows themselves are written by verification links."""

    list_display = ("user", "email", "verified_at", "is_current")
    search_fields = (*USER_SEARCH, "email")
    readonly_fields = ("user", "email", "verified_at")
    list_select_related = ("user",)
    actions = ["mark_current_addresses_verified"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(boolean=True, description="still the user's address")
    def is_current(self, obj: EmailAddress) -> bool:
        return obj.proves(recovery.email_of(obj.user))

    @admin.action(description="Mark the users' current addresses verified", permissions=["change"])
    def mark_current_addresses_verified(self, request: HttpRequest, queryset: QuerySet[EmailAddress]) -> None:
        for record in queryset.select_related("user"):
            recovery.mark_verified(record.user)
        self.message_user(request, f"{queryset.count()} address(es) marked verified.", messages.SUCCESS)


def _shortened(text: str, length: int) -> str:
    """`text` cut to `length` characters, whole in the title (a tooltip); "-" when empty."""
    if not text:
        return "-"
    if len(text) <= length:
        return text
    return format_html('<span title="{}">{}…</span>', text, text[:length])


# A week in 56 bars of three hours: each wide enough to see and to point at.
DASHBOARD_BUCKET_HOURS = 3


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    """The trail is a record: listed and filtered, never added or edited here."""

    # One line a row: the user agent shortened (whole on hover and on the event's page).
    list_display = ("created_at", "kind", "reason", "username", "user", "ip", "short_user_agent", "short_session")
    list_filter = ("kind", "reason", ("user", admin.RelatedOnlyFieldListFilter), "ip")
    search_fields = ("username", "ip", "user_agent", "=session_id")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    readonly_fields = [f.name for f in Activity._meta.fields]
    change_list_template = "authgate/activity_change_list.html"
    dashboard_template = "authgate/activity_dashboard.html"
    # What the dashboard charts, with each series' colour.
    charted = [
        (Activity.LOGIN_SUCCEEDED, "Logins", "#2e7d32"),
        (Activity.LOGIN_FAILED, "Failed logins", "#c62828"),
        (Activity.LOGIN_THROTTLED, "Throttled attempts", "#ef6c00"),
        (Activity.REFRESH_REUSE_DETECTED, "Refresh token reuse detected", "#6a1b9a"),
    ]

    @admin.display(description="user agent", ordering="user_agent")
    def short_user_agent(self, obj: Activity) -> str:
        return _shortened(obj.user_agent, 40)

    @admin.display(description="session", ordering="session_id")
    def short_session(self, obj: Activity) -> str:
        return _shortened(str(obj.session_id) if obj.session_id else "", 8)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        dashboard = self.admin_site.admin_view(self.dashboard_view)
        return [path("dashboard/", dashboard, name="authgate_activity_dashboard"), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "dashboard_url": reverse("admin:authgate_activity_dashboard")}
        return super().changelist_view(request, extra_context)

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        now = timezone.now()
        counts, hours = activity.hourly_counts([kind for kind, _title, _color in self.charted], now=now)
        failing = activity.top_failing_ips(now - timedelta(hours=24))
        context = {
            **self.admin_site.each_context(request),
            "title": "Activity dashboard",
            "opts": self.model._meta,
            "now": now,
            "active_sessions": Session.objects.active(now).count(),
            "charts": [
                {
                    "kind": kind,
                    "title": title,
                    "svg": charts.hourly_bars(
                        *charts.bucketed(counts[kind], hours, DASHBOARD_BUCKET_HOURS),
                        title=f"{title} per {DASHBOARD_BUCKET_HOURS} hours",
                        color=color,
                        span=DASHBOARD_BUCKET_HOURS,
                    ),
                }
                for kind, title, color in self.charted
            ],
            "failing_ips": failing,
            "failures_24h": sum(counts[Activity.LOGIN_FAILED][-24:]),
            "failing_svg": charts.ranked_bars(failing, title="Failed logins by IP, last 24 hours", color="#c62828"),
            "changelist_url": reverse("admin:authgate_activity_changelist"),
        }
        return TemplateResponse(request, self.dashboard_template, context)


@admin.register(MigratedToken)
class MigratedTokenAdmin(admin.ModelAdmin):
    """simplejwt refresh tokens exchanged for a session (read-only: the record that makes
    a second exchange fail)."""

    list_display = ("jti", "user", "session", "exchanged_at", "expires_at")
    search_fields = ("jti", *USER_SEARCH)
    readonly_fields = [f.name for f in MigratedToken._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Lockout)
class LockoutAdmin(admin.ModelAdmin):
    """Who is locked out (failed logins and other attempt limits), from where, until when;
    lifting one deletes its counter, so the next attempt starts a new window."""

    list_display = ("who", "ip", "scope", "count", "limit", "window_ends")
    list_display_links = None
    search_fields = ("label", "ip", "key")
    actions = ["lift_selected"]

    def get_queryset(self, request: HttpRequest) -> AttemptCounterQuerySet:
        # Lockout's manager is AttemptCounter's (its queryset class).
        return cast(AttemptCounterQuerySet, super().get_queryset(request)).locked()

    @admin.display(description="who", ordering="label")
    def who(self, obj: Lockout) -> str:
        return obj.label or "—"

    @admin.display(description="what")
    def scope(self, obj: Lockout) -> str:
        return obj.scope

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.action(description="Lift selected lockouts", permissions=["delete"])
    def lift_selected(self, request: HttpRequest, queryset: QuerySet[Lockout]) -> None:
        lifted = 0
        for key in queryset.values_list("key", flat=True):
            counters.reset(key)
            lifted += 1
        self.message_user(request, f"{lifted} lockout(s) lifted.", messages.SUCCESS)


# Second factors: their admin, and support's removal action on the users' list.
from .mfa import admin as mfa_admin  # noqa: E402
from .mfa.webauthn import admin as webauthn_admin  # noqa: E402,F401  (registers the keys' admin)

mfa_admin.add_action_to_user_admin()


# -- the user model's own admin: a taken or look-alike name is a form error, not a 500 ------
def names_checked(form_class: type[Any]) -> type[Any]:
    """`form_class` (a ModelForm of the user model) that also asks identity whether the
    edited account's login names are free, as every save does: a taken name (in any case
    or width) or a look-alike username becomes an error on its field instead of the
    IntegrityError the save would raise."""
    if getattr(form_class, "authgate_names_checked", False):
        return form_class

    class NamesChecked(form_class):  # type: ignore[misc]
        authgate_names_checked = True

        def _post_clean(self) -> None:
            super()._post_clean()
            if self.errors:
                return
            try:
                identity.check_available(self.instance)
            except identity.NameTaken as taken:
                field = taken.field if taken.field in self.fields else None
                self.add_error(field, _("This name is taken by another account, or looks too much like one."))

    NamesChecked.__name__ = NamesChecked.__qualname__ = form_class.__name__
    return NamesChecked


def check_names_in_user_admin(site: admin.AdminSite = admin.site) -> bool:
    """Wrap the forms of the user model's admin on `site` (django.contrib.auth's UserAdmin,
    or the project's) with `names_checked`."""
    user_admin = site._registry.get(get_user_model())
    if user_admin is None or getattr(user_admin, "authgate_names_checked", False):
        return user_admin is not None
    get_form = user_admin.get_form

    def checked_get_form(request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        return names_checked(get_form(request, obj, change=change, **kwargs))

    user_admin.get_form = checked_get_form  # type: ignore[method-assign]
    user_admin.authgate_names_checked = True  # type: ignore[attr-defined]
    return True


check_names_in_user_admin()
