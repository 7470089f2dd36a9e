"""
Every public import path that the docs, the README or earlier releases name keeps working
after the package was redrawn: old modules re-export what moved out of them, and the name
they give is the very object of the new home (not a copy that could drift).
"""

from importlib import import_module

import pytest

# (old module, name) -> (new module, name): where each moved name lives now.
MOVED = {
    ("authgate.revocation", "get_store"): ("authgate.revocation.process", "get_store"),
    ("authgate.revocation", "reset_store"): ("authgate.revocation.process", "reset_store"),
    ("authgate.revocation", "DatabaseRevocationStore"): ("authgate.revocation.store", "DatabaseRevocationStore"),
    ("authgate.revocation", "CachingRevocationStore"): ("authgate.revocation.store", "CachingRevocationStore"),
    ("authgate.revocation", "SessionCache"): ("authgate.revocation.cache", "SessionCache"),
    ("authgate.revocation", "CHANNEL"): ("authgate.revocation.messages", "CHANNEL"),
    ("authgate.revocation", "FLUSH"): ("authgate.revocation.messages", "FLUSH"),
    ("authgate.revocation", "BusError"): ("authgate.revocation.buses.base", "BusError"),
    ("authgate.revocation", "PushBus"): ("authgate.revocation.buses.base", "PushBus"),
    ("authgate.revocation", "RedisBus"): ("authgate.revocation.buses.redis", "RedisBus"),
    ("authgate.revocation", "PostgresBus"): ("authgate.revocation.buses.postgres", "PostgresBus"),
    ("authgate.revocation", "FileBus"): ("authgate.revocation.buses.sqlite", "FileBus"),
    ("authgate.revocation", "add_invalidation_listener"): (
        "authgate.revocation.listeners",
        "add_invalidation_listener",
    ),
    ("authgate.triggers", "install"): ("authgate.revocation.triggers", "install"),
    ("authgate.triggers", "install_after_migrate"): ("authgate.revocation.triggers", "install_after_migrate"),
    ("authgate.triggers", "supported"): ("authgate.revocation.triggers", "supported"),
    ("authgate.checks", "install_hint"): ("authgate.extras", "install_hint"),
    ("authgate.views", "LoginView"): ("authgate.api.views.auth", "LoginView"),
    ("authgate.views", "AuthgateAPIView"): ("authgate.api.views.base", "AuthgateAPIView"),
    ("authgate.views", "login_response"): ("authgate.api.views.steps", "login_response"),
    ("authgate.views", "PasswordChangeView"): ("authgate.api.views.account", "PasswordChangeView"),
    ("authgate.urls", "urlpatterns"): ("authgate.api.urls", "urlpatterns"),
    ("authgate.serializers", "UserSerializer"): ("authgate.api.serializers", "UserSerializer"),
    ("authgate.cookies", "set_auth_cookies"): ("authgate.api.cookies", "set_auth_cookies"),
    ("authgate.authentication", "JWTSessionAuthentication"): (
        "authgate.api.authentication",
        "JWTSessionAuthentication",
    ),
    ("authgate.openapi", "extend_schema"): ("authgate.api.schema", "extend_schema"),
    ("authgate.oauth", "AuthorizationServerMetadataView"): ("authgate.api.oauth", "AuthorizationServerMetadataView"),
    ("authgate.checks", "is_installed"): ("authgate.extras", "is_installed"),
    ("authgate.settings", "api_settings"): ("authgate.conf", "api_settings"),
    ("authgate.settings", "DEFAULTS"): ("authgate.conf", "DEFAULTS"),
    ("authgate.settings", "APISettings"): ("authgate.conf", "APISettings"),
    ("authgate.settings", "IMPORT_STRINGS"): ("authgate.conf", "IMPORT_STRINGS"),
    ("authgate.settings", "RELOADING_SETTINGS"): ("authgate.conf", "RELOADING_SETTINGS"),
    ("authgate.exceptions", "exception_handler"): ("authgate.errors", "exception_handler"),
    ("authgate.exceptions", "InvalidToken"): ("authgate.errors", "InvalidToken"),
    ("authgate.exceptions", "InvalidCredentials"): ("authgate.errors", "InvalidCredentials"),
    ("authgate.exceptions", "MFARequired"): ("authgate.errors", "MFARequired"),
    ("authgate.exceptions", "handler404"): ("authgate.errors", "handler404"),
    ("authgate.access", "AuthenticationFailed"): ("authgate.errors", "AuthenticationFailed"),
    ("authgate.access", "NotAuthenticated"): ("authgate.errors", "NotAuthenticated"),
    ("authgate.access", "CSRFFailed"): ("authgate.errors", "CSRFFailed"),
    ("authgate.tokens", "TokenError"): ("authgate.errors", "TokenInvalid"),
    ("authgate.mfa.providers", "AMR_VALUES"): ("authgate.amr", "AMR_VALUES"),
    ("authgate.mfa.providers", "FactorProvider"): ("authgate.factors", "FactorProvider"),
    ("authgate.mfa.providers", "InvalidProof"): ("authgate.factors", "InvalidProof"),
    ("authgate.mfa.providers", "register"): ("authgate.factors", "register"),
    ("authgate.mfa.providers", "has_factor"): ("authgate.factors", "has_factor"),
    ("authgate.mfa.providers", "FACTOR_AMR"): ("authgate.amr", "FACTOR_AMR"),
    ("authgate.account.names", "fold"): ("authgate.names", "fold"),
    ("authgate.account.names", "lookalikes"): ("authgate.names", "lookalikes"),
    ("authgate.models", "PendingLogin"): ("authgate.mfa.models", "PendingLogin"),
    ("authgate.models", "RecoveryCode"): ("authgate.mfa.models", "RecoveryCode"),
    ("authgate.models", "TOTPDevice"): ("authgate.mfa.models", "TOTPDevice"),
    ("authgate.models", "WebAuthnChallenge"): ("authgate.mfa.webauthn.models", "WebAuthnChallenge"),
    ("authgate.models", "WebAuthnCredential"): ("authgate.mfa.webauthn.models", "WebAuthnCredential"),
    ("authgate.mfa.models", "PendingLogin"): ("authgate.factors.models", "PendingLogin"),
    ("authgate.factors", "FactorProvider"): ("authgate.factors.registry", "FactorProvider"),
    ("authgate.factors", "register"): ("authgate.factors.registry", "register"),
    ("authgate.factors", "providers"): ("authgate.factors.registry", "providers"),
    ("authgate.mfa.gate", "require_second_factor"): ("authgate.factors.gate", "require_second_factor"),
    ("authgate.mfa.gate", "check_second_factor"): ("authgate.factors.gate", "check_second_factor"),
    ("authgate.mfa.pending", "PendingLoginInvalid"): ("authgate.factors.pending", "PendingLoginInvalid"),
    ("authgate.mfa.events", "used"): ("authgate.factors.events", "used"),
    ("authgate.mfa.reauth", "require_recent"): ("authgate.factors.reauth", "require_recent"),
    ("authgate.mfa.views", "MFAVerifyView"): ("authgate.api.views.mfa", "MFAVerifyView"),
    ("authgate.mfa.views", "ReauthenticateView"): ("authgate.api.views.mfa", "ReauthenticateView"),
    ("authgate.mfa.webauthn.views", "PasskeyLoginCompleteView"): (
        "authgate.api.views.webauthn",
        "PasskeyLoginCompleteView",
    ),
    ("authgate.mfa.webauthn.views", "BEGIN_PER_ADDRESS_PER_MINUTE"): (
        "authgate.api.views.webauthn",
        "BEGIN_PER_ADDRESS_PER_MINUTE",
    ),
}

# Names the docs import from where they have always been.
DOCUMENTED = [
    ("authgate.signals", "session_opened"),
    ("authgate.signals", "session_ended"),
    ("authgate.signals", "refresh_reuse_detected"),
    ("authgate.authentication", "JWTSessionAuthentication"),
    ("authgate.authentication", "StaticTokenAuthentication"),
    ("authgate.backends", "UsernameOrEmailBackend"),
    ("authgate.serializers", "UserSerializer"),
    ("authgate.serializers", "RegisterSerializer"),
    ("authgate.serializers", "LoginSerializer"),
    ("authgate.views", "AuthgateAPIView"),
    ("authgate.views", "PublicView"),
    ("authgate.pages", "AccountPageView"),
    ("authgate.oauth", "AuthorizationServerMetadataView"),
    ("authgate.metrics", "MetricsView"),
    ("authgate.middleware", "DatabaseUnavailableMiddleware"),
    ("authgate.security", "NoStoreMiddleware"),
    ("authgate.security", "JSONParser"),
    ("authgate.recovery", "EmailVerificationTokenGenerator"),
    ("authgate.identity", "NameTaken"),
    ("authgate.activity", "record"),
    ("authgate.counters", "hit"),
    ("authgate.exceptions", "exception_handler"),
    ("authgate.errors", "exception_handler"),
    ("authgate.access", "AuthenticationFailed"),
    ("authgate.access", "aauthenticate_request"),
    ("authgate.sessions", "end_sessions"),
    ("authgate.settings", "api_settings"),
    ("authgate.settings", "DEFAULTS"),
    ("authgate.conf", "api_settings"),
    ("authgate.conf", "DEFAULTS"),
    ("authgate.models", "Session"),
    ("authgate.models", "Activity"),
]


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()), ids=lambda pair: ".".join(pair))
def test_a_moved_name_is_still_importable_from_its_old_module_as_the_same_object(old, new):
    assert getattr(import_module(old[0]), old[1]) is getattr(import_module(new[0]), new[1])


@pytest.mark.parametrize("path", DOCUMENTED, ids=".".join)
def test_a_documented_import_path_still_works(path):
    module, name = path
    assert getattr(import_module(module), name) is not None


@pytest.mark.parametrize(
    "old",
    [
        "authgate.views",
        "authgate.urls",
        "authgate.serializers",
        "authgate.openapi",
        "authgate.mfa.gate",
        "authgate.mfa.pending",
        "authgate.mfa.events",
        "authgate.mfa.reauth",
        "authgate.mfa.views",
        "authgate.mfa.webauthn.views",
    ],
)
def test_a_moved_module_is_the_very_module_of_its_new_home(old):
    from authgate._moved import MOVED

    module = import_module(old)
    assert module is import_module(MOVED[old])
    assert module.__spec__.name == MOVED[old]  # its own spec: the autoreloader still watches its file


def test_a_type_checker_finds_every_moved_module_and_its_new_homes_names():
    """A moved module has no file at its old path, so a stub there (shipped in the wheel)
    gives type checkers what the run-time alias gives Python: the new home's names."""
    from pathlib import Path

    import authgate
    from authgate._moved import MOVED

    source = Path(authgate.__file__).parent.parent
    for old, new in MOVED.items():
        stub = source / (old.replace(".", "/") + ".pyi")
        assert stub.is_file(), old
        assert f"from {new} import *" in stub.read_text(), old


def test_a_star_import_of_the_models_gives_the_second_factor_models_too():
    """The second-factor classes live beside the factors; `from authgate.models import *`
    still gives them, as the very classes of their homes."""
    homes = {
        "PendingLogin": "authgate.factors.models",
        "RecoveryCode": "authgate.mfa.models",
        "TOTPDevice": "authgate.mfa.models",
        "WebAuthnChallenge": "authgate.mfa.webauthn.models",
        "WebAuthnCredential": "authgate.mfa.webauthn.models",
    }
    namespace: dict[str, object] = {}
    exec("from authgate.models import *", namespace)
    for name, home in homes.items():
        assert namespace[name] is getattr(import_module(home), name), name
    assert namespace["Session"] is import_module("authgate.models").Session


def test_an_unknown_name_of_the_models_module_is_an_attribute_error():
    import authgate.models

    assert not hasattr(authgate.models, "NoSuchModel")
