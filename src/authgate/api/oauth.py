"""
What other services need to accept authgate's tokens, as OAuth standards:

- JWKS (RFC 7517) at `.well-known/jwks.json`: the public keys that verify tokens —
  current, staged and previous; never a private member; `{"keys": []}` under HMAC.
- Token introspection (RFC 7662) at `introspect/`: is this token live right now? Callable
  only by a service: a static token (`Authorization: Token <key>`) whose user has the
  permission `authgate.introspect_token`. Static tokens are already hashed, named,
  expiring, revocable and listed in the admin, so no second kind of secret is needed.
- Token revocation (RFC 7009) at `revoke/`: presenting an access or refresh token ends
  its session (holding a token is the right to log it out, as with logout), 200 always.
- Authorization-server metadata (RFC 8414) at the site root's
  `/.well-known/oauth-authorization-server`: where the three above are.

Views only shape HTTP: whether a token is live is `sessions.verify`'s answer, and a
session is ended by `sessions` (its `end_sessions`), never here.
"""

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework.views import APIView
from rest_framework import permissions, serializers
from rest_framework.parsers import FormParser
from rest_framework.response import Response

from .. import sessions
from ..security import JSONParser  # DRF's, without a 500 on deeply nested JSON
from ..conf import api_settings
from ..tokens import TokenError, get_codec
from .authentication import StaticTokenAuthentication
from .schema import OpenApiResponse, extend_schema, inline_serializer
from .views import AuthgateAPIView, PublicView

INTROSPECT_PERMISSION = "authgate.introspect_token"
# RFC 7009 §4.1.2's token type hint vocabulary names our two kinds of JWT.
TOKEN_TYPES = {"access": "access_token", "refresh": "refresh_token"}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenRequestSerializer(serializers.Serializer[dict[str, Any]]):
    token = serializers.CharField(trim_whitespace=False)
    # Accepted and ignored: our tokens say their own type (RFC 7009 §2.1 allows this).
    token_type_hint = serializers.CharField(required=False, allow_blank=True)


class IntrospectionSerializer(serializers.Serializer[dict[str, Any]]):
    active = serializers.BooleanField()
    sub = serializers.CharField(required=False)
    username = serializers.CharField(required=False)
    sid = serializers.CharField(required=False)
    token_type = serializers.ChoiceField(choices=list(TOKEN_TYPES.values()), required=False)
    exp = serializers.IntegerField(required=False)
    iat = serializers.IntegerField(required=False)
    jti = serializers.CharField(required=False)
    iss = serializers.CharField(required=False)
    aud = serializers.CharField(required=False)


def _cache_headers() -> dict[str, str]:
    return {"Cache-Control": f"public, max-age={int(api_settings.JWKS_MAX_AGE.total_seconds())}"}


def _token_from(request: Request) -> str:
    serializer = TokenRequestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    token: str = serializer.validated_data["token"]
    return token


@extend_schema(tags=["oauth"])
class JWKSView(PublicView):
    @extend_schema(
        operation_id="api_auth_jwks_retrieve",
        responses={200: inline_serializer("JWKS", {"keys": serializers.ListField(child=serializers.DictField())})},
    )
    def get(self, request: Request) -> Response:
        return Response(get_codec().jwks(), headers=_cache_headers())


class CanIntrospect(permissions.BasePermission):
    message = _("This credential may not introspect tokens.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.has_perm(INTROSPECT_PERMISSION))


@extend_schema(tags=["oauth"])
class IntrospectView(AuthgateAPIView):
    authentication_classes = [StaticTokenAuthentication]
    permission_classes = [permissions.IsAuthenticated, CanIntrospect]
    parser_classes = [FormParser, JSONParser]

    def get_authenticate_header(self, request: Request) -> str:
        return f'{api_settings.STATIC_TOKEN_HEADER_TYPE} realm="api"'

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: IntrospectionSerializer,
            400: OpenApiResponse(description="No token given."),
            401: OpenApiResponse(description="No service credential."),
            403: OpenApiResponse(description="The credential lacks authgate.introspect_token."),
        },
    )
    def post(self, request: Request) -> Response:
        raw = _token_from(request)
        try:
            claims, session = sessions.verify(raw)
        except TokenError:
            # RFC 7662 §2.2: revoked, expired, unknown or garbage all look the same.
            return Response({"active": False}, headers=NO_STORE)
        payload = claims.payload
        body = {
            "active": True,
            "sub": claims.user_id,
            "username": session.user.get_username(),
            "sid": claims.session_id,
            "token_type": TOKEN_TYPES[claims.token_type],
            "exp": claims.expires_at,
            "iat": claims.issued_at,
        }
        for name in ("jti", "iss", "aud"):
            if name in payload:
                body[name] = payload[name]
        return Response(body, headers=NO_STORE)


@extend_schema(tags=["oauth"])
class RevokeView(PublicView):
    parser_classes = [FormParser, JSONParser]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: inline_serializer("Revoked", {}), 400: OpenApiResponse(description="No token given.")},
    )
    def post(self, request: Request) -> Response:
        raw = _token_from(request)
        try:
            claims, _session = sessions.verify(raw)
        except TokenError:
            # RFC 7009 §2.2: an invalid, expired, spent or unknown token is answered 200
            # (there is nothing left to revoke, and the answer tells a prober nothing).
            return Response({}, headers=NO_STORE)
        sessions.end_session_by_id(claims.session_id, sessions.LOGOUT)
        return Response({}, headers=NO_STORE)


@extend_schema(tags=["oauth"])
class AuthorizationServerMetadataView(PublicView):
    """RFC 8414 metadata; mount at the site root: `/.well-known/oauth-authorization-server`."""

    @extend_schema(
        operation_id="oauth_authorization_server_retrieve",
        responses={
            200: inline_serializer(
                "AuthorizationServerMetadata",
                {
                    "issuer": serializers.CharField(),
                    "jwks_uri": serializers.URLField(),
                    "introspection_endpoint": serializers.URLField(),
                    "revocation_endpoint": serializers.URLField(),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        issuer = api_settings.ISSUER or request.build_absolute_uri("/").rstrip("/")
        body = {
            "issuer": issuer,
            "jwks_uri": request.build_absolute_uri(reverse("authgate:jwks")),
            "introspection_endpoint": request.build_absolute_uri(reverse("authgate:introspect")),
            "revocation_endpoint": request.build_absolute_uri(reverse("authgate:revoke")),
            # Anyone holding a token may revoke it. Introspection takes a static token
            # (`Authorization: Token <key>`), which the registry of methods has no name for.
            "revocation_endpoint_auth_methods_supported": ["none"],
        }
        return Response(body, headers=_cache_headers())
