"""
Account recovery over the API: password reset (request and confirm) and email verification.
What a link is and what using one does lives in `authgate.recovery`.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework import permissions, status
from rest_framework import serializers as drf_serializers
from rest_framework.response import Response

from ... import mail, notifications, recovery
from ...net import user_of
from ...throttling import MailThrottle
from .. import serializers
from ..schema import extend_schema, inline_serializer
from .base import ERRORS, AuthgateAPIView, PublicView, _validated
from .steps import _mail_allowed, _send_verification_mail

RESET_REQUESTED = _("If an active account has this email address, a link to reset its password is on its way.")


@extend_schema(tags=["account recovery"])
class PasswordResetView(PublicView):
    """Mails a reset link. The answer, and the time it takes, are the same whether or not
    an account has the address: the mail is composed either way and sent in the background."""

    @extend_schema(
        request=serializers.PasswordResetSerializer,
        responses={202: serializers.DetailSerializer, 400: ERRORS[400], 429: serializers.ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        email = _validated(serializers.PasswordResetSerializer, request)["email"]
        MailThrottle(request, email, mail.PASSWORD_RESET).check()
        users = recovery.users_for_reset(email)
        messages = [mail.password_reset_mail(request, user) for user in users]
        # For an address no account has, the same work: a mail composed and serialised, not sent.
        decoys = [] if users else [mail.password_reset_mail(request, recovery.stand_in_user(email))]
        mail.outbox.send(messages, decoys)
        return Response({"detail": RESET_REQUESTED}, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["account recovery"])
class PasswordResetConfirmView(PublicView):
    @extend_schema(
        parameters=[serializers.LinkSerializer],
        responses={
            200: inline_serializer(
                "ResetLinkAccount", {"username": drf_serializers.CharField(), "email": drf_serializers.CharField()}
            ),
            400: ERRORS[400],
        },
        description="Whose password a reset link would reset (for the page to name the account), "
        "without using the link; an invalid, expired or used link is 400 `invalid_link`.",
    )
    def get(self, request: Request) -> Response:
        link = serializers.LinkSerializer(data=request.query_params)
        link.is_valid(raise_exception=True)
        user = recovery.user_for_reset_link(link.validated_data["uid"], link.validated_data["token"])
        return Response({"username": user.get_username(), "email": recovery.email_of(user) or ""})

    @extend_schema(
        request=serializers.PasswordResetConfirmSerializer,
        responses={200: serializers.SessionsEndedSerializer, 400: ERRORS[400]},
        description="Set a new password from a reset link; every session of the user ends. "
        "A weak password is a field error and leaves the link usable; an invalid, "
        "expired or used link is 400 `invalid_link`.",
    )
    def post(self, request: Request) -> Response:
        data = _validated(serializers.PasswordResetConfirmSerializer, request)
        user = recovery.user_for_reset_link(data["uid"], data["token"])
        serializers.validate_new_password(data["new_password"], user)
        ended = recovery.reset_password(user, data["new_password"], request=request)
        return Response(
            {"detail": _("Your password has been reset. Sign in with the new one."), "sessions_ended": ended}
        )


@extend_schema(tags=["account recovery"])
class EmailVerifyView(PublicView):
    @extend_schema(request=serializers.LinkSerializer, responses={200: serializers.DetailSerializer, 400: ERRORS[400]})
    def post(self, request: Request) -> Response:
        data = _validated(serializers.LinkSerializer, request)
        user, old_email = recovery.use_verification_link(data["uid"], data["token"], request=request)
        if old_email is None:
            return Response({"detail": _("Your email address is verified.")})
        # The previous address is told (quietly counted: no flooding it by switching back and
        # forth): a change made by someone else gets noticed.
        if old_email and _mail_allowed(request, old_email, mail.EMAIL_CHANGED, quietly=True):
            notice = notifications.compose(
                notifications.EMAIL_CHANGED, user, request, to=old_email, old_email=old_email
            )
            if notice is not None:  # always, for this kind: it cannot be turned off
                mail.outbox.send([notice])
        return Response({"detail": _("Your email address is changed and verified.")})


@extend_schema(tags=["account recovery"])
class EmailVerifyResendView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=None, responses={202: serializers.DetailSerializer, 401: ERRORS[401], 429: serializers.ErrorSerializer}
    )
    def post(self, request: Request) -> Response:
        user = user_of(request)
        if recovery.is_email_verified(user):
            return Response({"detail": _("Your email address is already verified.")}, status=status.HTTP_202_ACCEPTED)
        _send_verification_mail(request, user)
        return Response({"detail": _("A new verification link is on its way.")}, status=status.HTTP_202_ACCEPTED)
