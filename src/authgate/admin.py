"""Django admin: sessions and static tokens listed and revocable (through the lifecycle)."""
from django.contrib import admin, messages

from . import sessions, static_tokens
from .models import Session, StaticToken


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("user", "device", "ip", "created_at", "last_used_at", "expires_at", "ended_at", "end_reason")
    list_filter = ("end_reason", ("ended_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "user__email", "device", "ip")
    readonly_fields = [f.name for f in Session._meta.fields]
    actions = ["end_selected_sessions"]

    def has_add_permission(self, request):
        return False

    # Without `permissions`, anyone who may merely view the list could run the action.
    @admin.action(description="End selected sessions (their tokens stop working now)", permissions=["change"])
    def end_selected_sessions(self, request, queryset):
        ended = sessions.end_sessions(queryset, sessions.ADMIN)
        self.message_user(request, f"{ended} session(s) ended.", messages.SUCCESS)

    # Deleting a row must revoke it first, or a Redis cache would not hear of it.
    def delete_model(self, request, obj):
        sessions.end_sessions(Session.objects.filter(pk=obj.pk), sessions.ADMIN)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        sessions.end_sessions(queryset, sessions.ADMIN)
        super().delete_queryset(request, queryset)


@admin.register(StaticToken)
class StaticTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "prefix", "created_at", "last_used_at", "expires_at")
    search_fields = ("user__username", "name", "prefix")
    readonly_fields = ("user", "name", "prefix", "digest", "created_at", "last_used_at", "expires_at")
    actions = ["revoke_selected"]

    def has_add_permission(self, request):
        return False  # keys are shown once, through the API or the command

    @admin.action(description="Revoke selected tokens", permissions=["delete"])
    def revoke_selected(self, request, queryset):
        count = queryset.count()
        for token in queryset:
            static_tokens.revoke(token)
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)
