"""
Signal receivers: deactivating a user (`is_active = False`, e.g. in the Django admin)
ends all their sessions at once; their static tokens are refused by the per-request
`is_active` check.
"""
from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from . import sessions


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def end_sessions_of_deactivated_user(sender, instance, created, update_fields=None, **kwargs):
    if created or instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    sessions.end_user_sessions(instance, sessions.USER_INACTIVE)
