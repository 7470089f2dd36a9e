"""
Static tokens over the API: list, create (from a session or a password login, never from
another static token) and revoke.
"""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework import permissions, status
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.response import Response

from ... import static_tokens
from ...errors import MFARequired
from ...factors import gate, reauth, registry
from ...models import StaticToken
from .. import serializers
from ..schema import extend_schema
from .base import ERRORS, AuthgateAPIView, _logged_in, _validated
from .steps import _check_password_login

STATIC_KEY_CANNOT_MINT = _("A static token cannot create static tokens: sign in, or send your username and password.")


@extend_schema(tags=["static tokens"])
class StaticTokenListView(AuthgateAPIView):
    permission_classes = [permissions.AllowAny]

    def perform_authentication(self, request: Request) -> None:
        pass  # POST may authenticate with username/password instead

    @extend_schema(responses={200: serializers.StaticTokenSerializer(many=True), 401: ERRORS[401]})
    def get(self, request: Request) -> Response:
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        return Response(serializers.StaticTokenSerializer(request.user.authgate_static_tokens.all(), many=True).data)

    @extend_schema(
        request=serializers.StaticTokenCreateSerializer,
        responses={
            201: serializers.StaticTokenCreatedSerializer,
            400: ERRORS[400],
            401: ERRORS[401],
            403: serializers.ErrorSerializer,
            429: serializers.ErrorSerializer,
        },
        description="Create a static token: with a session (Bearer or cookie) or with "
        "`{username, password}`; a static token cannot create another one (403).",
    )
    def post(self, request: Request) -> Response:
        data = _validated(serializers.StaticTokenCreateSerializer, request)
        if "username" in data:
            user = _check_password_login(request, data["username"], data["password"])
            has_factor = registry.has_factor_once(user)
            if has_factor and "code" in data:  # the second factor in the same request (scripts, CLIs)
                gate.check_second_factor(user, request, {"code": data["code"]})
            elif has_factor:
                raise MFARequired(
                    {"methods": [p.type for p in registry.enabled_providers(user)]},
                    detail=_(
                        "This account has a second factor: send `code` with the password, or create the token from a signed-in session."
                    ),
                )
        elif request.user.is_authenticated:
            if isinstance(request.auth, StaticToken):
                # A stolen key must not outlive its own revocation by minting others.
                raise PermissionDenied(STATIC_KEY_CANNOT_MINT)
            user = request.user
            reauth.require_recent(request)
        else:
            raise NotAuthenticated()
        token, key = static_tokens.create_token(
            user, name=data.get("name", ""), expires_in=data.get("expires_in"), request=request
        )
        if "username" in data:  # a password login that yields a static token instead of a session
            _logged_in(request, user)
        return Response(
            {"id": token.pk, "token": key, "name": token.name, "expires_at": token.expires_at},
            status=status.HTTP_201_CREATED,
        )


@extend_schema(tags=["static tokens"])
class StaticTokenDetailView(AuthgateAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={204: None, 401: ERRORS[401], 404: serializers.ErrorSerializer})
    def delete(self, request: Request, token_id: int) -> Response:
        token = get_object_or_404(StaticToken, pk=token_id, user=request.user)
        static_tokens.revoke(token, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
