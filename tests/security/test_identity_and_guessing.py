"""
Identities and guessing, through the API and Django as a project uses them:

- one login name per account: case and Unicode width do not make a new name, a colliding
  registration is a 400 field error (never a 500), emails are unique in any case, and no
  username can capture another account's email login (nor the reverse);
- the failed-login count belongs to the account a name resolves to, and a success resets
  only that account's count: the case-twin reset attack fails;
- deactivation is for good, however it is done (save(), QuerySet.update(), raw SQL);
- support lists and lifts lockouts (admin, `authgate_lockouts`);
- accounts that predate the rules: keys rebuilt, clashes reported by a system check.
"""

import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from authgate import checks, counters, identity
from authgate.models import AttemptCounter, LoginKey, Session, StaticToken

from ..conftest import PASSWORD, bearer, login

User = get_user_model()
pytestmark = pytest.mark.django_db

REGISTER = "/api/auth/register/"
PROTECTED = "/api/protected/"
WRONG = "not-the-password-1"
ATTACKER_IP = "203.0.113.66"
THROTTLE = {"LOGIN_THROTTLE": {"USER_IP": "5/15m", "IP": "50/15m"}}


def register(client, username, email=None, password="A-fine-passphrase-77"):
    return client.post(
        REGISTER,
        {"username": username, "email": email or f"{username}@example.org", "password": password},
        format="json",
    )


def login_from(client, username, password=PASSWORD, ip=ATTACKER_IP):
    return client.post("/api/auth/login/", {"username": username, "password": password}, format="json", REMOTE_ADDR=ip)


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def assert_invalid(response):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "invalid_credentials"


# -- canonical names -------------------------------------------------------------------------
def test_canonical_form_folds_case_and_width():
    assert {identity.canonical(n) for n in ["Alice", "alice", "ａｌｉｃｅ", "ＡＬＩＣＥ"]} == {"alice"}
    assert identity.canonical("ſecadmin") == identity.canonical("SECADMIN") == "secadmin"
    assert identity.canonical("Straße") == identity.canonical("STRASSE")


@pytest.mark.parametrize("name", ["secadmin", "ｓｅｃａｄｍｉｎ", "ſecadmin", "SecAdmin", "SECADMIN"])
def test_registering_a_name_that_collides_is_a_400_field_error_said_once(api_client, make_user, name):
    make_user("secadmin")
    response = register(api_client, name, email="new@example.org")
    assert response.status_code == 400, response.content
    assert response.json() == {"username": ["A user with that username already exists."]}
    assert User.objects.count() == 1


def test_any_case_or_width_of_a_name_logs_in_its_account(api_client, make_user):
    make_user("alice")
    for name in ["alice", "ALICE", "ａｌｉｃｅ", "Alice@Example.com"]:
        response = login(api_client, name)
        assert response.status_code == 200, (name, response.content)
        assert response.json()["user"]["username"] == "alice"


def test_emails_are_unique_in_any_case(api_client, make_user):
    make_user("alice", email="alice@example.com")
    response = register(api_client, "alice2", email="ALICE@EXAMPLE.COM")
    assert response.status_code == 400
    assert response.json() == {"email": ["A user with that email already exists."]}


@pytest.mark.parametrize("name", ["vic@example.com", "VIC@Example.COM", "ｖｉｃ＠ｅｘａｍｐｌｅ．ｃｏｍ"])
def test_a_username_cannot_capture_another_accounts_email_login(api_client, make_user, name):
    make_user("victor", email="vic@example.com")
    response = register(api_client, name, email="attacker@example.org")
    assert response.status_code == 400, response.content
    assert "username" in response.json()
    # The owner logs in with the email and the right password.
    assert login(api_client, "vic@example.com").json()["user"]["username"] == "victor"


def test_an_email_cannot_capture_a_username_either(api_client):
    assert register(api_client, "pending@example.com", email="first@example.org").status_code == 201
    response = register(api_client, "someone", email="Pending@Example.com")
    assert response.status_code == 400
    assert "email" in response.json()


def test_ones_own_email_as_username_is_fine(api_client):
    response = register(api_client, "me@example.com", email="ME@example.com")
    assert response.status_code == 201, response.content
    assert login(api_client, "Me@Example.com", password="A-fine-passphrase-77").status_code == 200


def test_a_rename_through_save_that_would_capture_a_name_is_refused(make_user):
    make_user("victor", email="vic@example.com")
    mallory = make_user("mallory")
    for field, value in [("username", "VIC@example.com"), ("username", "Victor"), ("email", "victor")]:
        setattr(mallory, field, value)
        with pytest.raises(identity.NameTaken):
            mallory.save()
        mallory.refresh_from_db()
    assert (mallory.username, mallory.email) == ("mallory", "mallory@example.com")


def test_a_rename_moves_the_login_names(api_client, make_user):
    alice = make_user("alice")
    alice.username, alice.email = "alicia", "alicia@example.com"
    alice.save()
    assert set(LoginKey.objects.filter(user=alice).values_list("key", flat=True)) == {"alicia", "alicia@example.com"}
    assert_invalid(login(api_client, "alice"))
    assert_invalid(login(api_client, "alice@example.com"))
    assert login(api_client, "ALICIA").status_code == 200
    assert register(api_client, "alice").status_code == 201  # the old name is free again


def test_saving_other_fields_leaves_the_keys_alone(make_user, django_assert_max_num_queries):
    alice = make_user("alice")
    with django_assert_max_num_queries(1):
        alice.save(update_fields=["last_login"])


# -- throttle keys follow the account --------------------------------------------------------
@override_settings(AUTHGATE=THROTTLE)
def test_every_spelling_of_an_account_shares_one_count(api_client, make_user):
    make_user("victim", email="victim@example.com")
    for name in ["victim", "VICTIM", "ｖｉｃｔｉｍ", "Victim@Example.com", "victim"]:
        assert_invalid(login_from(api_client, name, WRONG))
    assert_throttled(login_from(api_client, "victim"))
    assert_throttled(login_from(api_client, "victim@example.com"))


@override_settings(AUTHGATE=THROTTLE)
def test_unknown_names_count_by_canonical_name(api_client):
    for name in ["Ghost", "ghost", "GHOST", "ｇｈｏｓｔ", "ghost"]:
        assert_invalid(login_from(api_client, name, WRONG))
    assert_throttled(login_from(api_client, "gHoSt", WRONG))


@override_settings(AUTHGATE=THROTTLE)
def test_the_case_twin_reset_attack_fails(api_client, make_user):
    """An attacker cannot register a case twin of the victim any more; and where twins
    predate the rules, the attacker's successful login resets only the attacker's count."""
    make_user("VICTIM")
    assert register(api_client, "victim").status_code == 400
    # Twins from before the rules (created around the keys, as old rows are).
    User.objects.bulk_create([User(username="victim", email="mallory@example.org")])
    mallory = User.objects.get(username="victim")
    mallory.set_password("mallory-own-pass-1")
    User.objects.filter(pk=mallory.pk).update(password=mallory.password)
    checked = 0
    for _ in range(4):  # guesses at the victim, then a good login of the twin, repeated
        for _ in range(4):
            response = login_from(api_client, "VICTIM", WRONG)
            if response.status_code == 401:
                checked += 1
        assert login_from(api_client, "victim", "mallory-own-pass-1").status_code == 200
    assert checked == 5


@override_settings(AUTHGATE=THROTTLE)
def test_a_success_resets_only_its_own_account_and_ip(api_client, make_user):
    make_user("alice")
    make_user("bob")
    for _ in range(4):
        assert_invalid(login_from(api_client, "alice", WRONG))
    for _ in range(3):
        assert_invalid(login_from(api_client, "bob", WRONG))
    assert login_from(api_client, "ALICE").status_code == 200
    assert counters.count(f"login-user-ip:user:{User.objects.get(username='alice').pk}|{ATTACKER_IP}") == 0
    for _ in range(2):
        assert_invalid(login_from(api_client, "bob", WRONG))
    assert_throttled(login_from(api_client, "bob"))


@override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "50/15m", "IP": "3/15m"}})
def test_successes_do_not_use_up_the_ip_limit(api_client, make_user):
    make_user("alice")
    for _ in range(10):
        assert login_from(api_client, "alice").status_code == 200
    for _ in range(3):
        assert_invalid(login_from(api_client, "alice", WRONG))
    assert_throttled(login_from(api_client, "alice"))


@override_settings(AUTHGATE={"LOGIN_THROTTLE": {"USER_IP": "2/15m", "IP": "50/15m"}})
def test_a_new_password_that_fails_validation_does_not_count_as_a_guess(api_client, make_user, tokens_for):
    user = make_user("alice")
    access = tokens_for(user)["access"]
    for _ in range(4):
        response = api_client.post(
            "/api/auth/password/change/",
            {"old_password": PASSWORD, "new_password": "1"},
            format="json",
            **bearer(access),
        )
        assert response.status_code == 400 and "new_password" in response.json()
    assert login(api_client, "alice").status_code == 200


# -- deactivation for good -------------------------------------------------------------------
def _credentials(api_client, tokens_for, user):
    tokens = tokens_for(user)
    key = api_client.post("/api/auth/tokens/", {"name": "ci"}, format="json", **bearer(tokens["access"])).json()[
        "token"
    ]
    assert api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    return tokens, key


def _assert_nothing_revived(api_client, user, tokens, key):
    User.objects.filter(pk=user.pk).update(is_active=True)
    user.refresh_from_db()
    assert user.is_active
    response = api_client.get(PROTECTED, **bearer(tokens["access"]))
    # (the ended session's reason, as a shared Redis store remembers it, may be "user_inactive")
    assert response.status_code == 401 and response.json()["reason"] in {"revoked", "user_inactive"}, response.content
    assert api_client.post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json").status_code == 401
    assert api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    assert not StaticToken.objects.filter(user=user).exists()
    assert set(Session.objects.filter(user=user).values_list("end_reason", flat=True)) == {"user_inactive"}
    assert login(api_client, user.get_username()).status_code == 200  # a new login works


def test_deactivation_by_save_is_for_good(api_client, make_user, tokens_for):
    alice = make_user("alice")
    tokens, key = _credentials(api_client, tokens_for, alice)
    alice.is_active = False
    alice.save()
    alice.is_active = True
    alice.save()
    _assert_nothing_revived(api_client, alice, tokens, key)


# What bypasses Python reaches the per-process session cache through PostgreSQL's NOTIFY
# triggers, or else within SESSION_CACHE_TTL (the hot path's documented window): these
# tests are about the record, so they read it on every request.
NO_SESSION_CACHE = {"SESSION_CACHE_SIZE": 0}


@override_settings(AUTHGATE=NO_SESSION_CACHE)
def test_deactivation_by_queryset_update_is_for_good(api_client, make_user, tokens_for):
    alice = make_user("alice")
    bob = make_user("bob")
    tokens, key = _credentials(api_client, tokens_for, alice)
    bobs, bobs_key = _credentials(api_client, tokens_for, bob)
    User.objects.filter(pk=alice.pk).update(is_active=False)  # as a bulk admin action does
    _assert_nothing_revived(api_client, alice, tokens, key)
    assert api_client.get(PROTECTED, **bearer(bobs["access"])).status_code == 200
    assert api_client.get(PROTECTED, HTTP_AUTHORIZATION=f"Token {bobs_key}").status_code == 200


@override_settings(AUTHGATE=NO_SESSION_CACHE)
def test_deactivation_by_raw_sql_is_for_good(api_client, make_user, tokens_for):
    alice = make_user("alice")
    tokens, key = _credentials(api_client, tokens_for, alice)
    table = connection.ops.quote_name(User._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET is_active = %s WHERE id = %s", [False, alice.pk])
    _assert_nothing_revived(api_client, alice, tokens, key)


def test_the_django_admin_deactivates_for_good(api_client, make_user, tokens_for):
    alice = make_user("alice")
    tokens, key = _credentials(api_client, tokens_for, alice)
    admin = make_user("admin", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_login(admin)
    page = client.get(f"/admin/auth/user/{alice.pk}/change/")
    form = {
        "username": "alice",
        "email": alice.email,
        "is_active": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }
    response = client.post(f"/admin/auth/user/{alice.pk}/change/", form)
    assert page.status_code == 200 and response.status_code == 302, response.content[:3000]
    alice.refresh_from_db()
    assert not alice.is_active
    _assert_nothing_revived(api_client, alice, tokens, key)


# -- lockouts: admin and command -------------------------------------------------------------
@pytest.fixture
def locked_out(api_client, make_user):
    make_user("alice")
    with override_settings(AUTHGATE=THROTTLE):
        for _ in range(5):
            login_from(api_client, "alice", WRONG)
        assert_throttled(login_from(api_client, "alice"))
    return AttemptCounter.objects.get(key__startswith="login-user-ip:")


def test_admin_lists_current_lockouts_and_lifts_one(api_client, make_user, locked_out):
    admin = make_user("admin", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_login(admin)
    page = client.get("/admin/authgate/lockout/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "alice" in html and ATTACKER_IP in html
    response = client.post("/admin/authgate/lockout/", {"action": "lift_selected", "_selected_action": [locked_out.pk]})
    assert response.status_code == 302
    with override_settings(AUTHGATE=THROTTLE):
        assert login_from(api_client, "alice").status_code == 200


def test_lifting_in_the_admin_needs_the_delete_permission(make_user, locked_out):
    viewer = make_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_lockout"))
    client = APIClient()
    client.force_login(viewer)
    assert client.get("/admin/authgate/lockout/").status_code == 200
    client.post("/admin/authgate/lockout/", {"action": "lift_selected", "_selected_action": [locked_out.pk]})
    assert AttemptCounter.objects.filter(pk=locked_out.pk).exists()


def test_command_lists_and_lifts_lockouts(api_client, capsys, locked_out):
    call_command("authgate_lockouts")
    listed = capsys.readouterr().out
    assert "alice" in listed and ATTACKER_IP in listed and "5/5" in listed
    with pytest.raises(Exception, match="--lift needs"):
        call_command("authgate_lockouts", "--lift")
    call_command("authgate_lockouts", "--lift", "--user", "ALICE")
    assert "1 lockout(s) lifted" in capsys.readouterr().out
    call_command("authgate_lockouts")
    assert "No current lockouts" in capsys.readouterr().out
    with override_settings(AUTHGATE=THROTTLE):
        assert login_from(api_client, "alice").status_code == 200


def test_command_lists_and_lifts_every_lockout_of_a_user_mail_limits_included(api_client, capsys, locked_out):
    def reset_from(ip):
        return api_client.post(
            "/api/auth/password/reset/", {"email": "ALICE@example.com"}, format="json", REMOTE_ADDR=ip
        )

    for i in range(5):  # the address's reset-mail limit, from five addresses
        assert reset_from(f"198.51.100.{i + 1}").status_code == 202
    assert_throttled(reset_from("198.51.100.9"))
    call_command("authgate_lockouts", "--user", "alice@example.com")
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2, listed
    assert any(line.startswith("login-user-ip") for line in listed)
    assert any(line.startswith("mail-email") and "alice@example.com" in line for line in listed)

    call_command("authgate_lockouts", "--lift", "--user", "Alice")
    assert "2 lockout(s) lifted" in capsys.readouterr().out
    call_command("authgate_lockouts", "--user", "alice")
    assert "No current lockouts" in capsys.readouterr().out
    assert reset_from("198.51.100.9").status_code == 202
    with override_settings(AUTHGATE=THROTTLE):
        assert login_from(api_client, "alice").status_code == 200


# -- accounts from before the rules ----------------------------------------------------------
def test_rebuild_and_the_check_report_old_case_twins(make_user):
    make_user("alice")
    User.objects.bulk_create(
        [User(username="ALICE", email="other@example.com"), User(username="carol", email="carol@example.com")]
    )
    assert not LoginKey.objects.filter(user__username="carol").exists()  # bulk_create skips save()
    clashes = identity.rebuild()
    twin = User.objects.get(username="ALICE")
    assert [(pk, field, value) for pk, field, value, _ in clashes] == [(twin.pk, "username", "ALICE")]
    assert set(LoginKey.objects.filter(user__username="carol").values_list("key", flat=True)) == {
        "carol",
        "carol@example.com",
    }
    warnings = checks.login_name_clashes(databases=["default"])
    assert [w.id for w in warnings] == ["authgate.W001"]
    assert "ALICE" in warnings[0].msg and "Rename" in warnings[0].hint
    # Each twin still logs in with its exact name.
    assert identity.resolve("ALICE") == twin
    assert identity.resolve("alice").username == "alice"
    assert identity.resolve("Alice").username == "alice"


def test_the_check_is_quiet_without_clashes(make_user):
    make_user("alice")
    assert checks.login_name_clashes(databases=["default"]) == []


# -- settings --------------------------------------------------------------------------------
@pytest.mark.parametrize("debug, secure", [("0", "True"), ("1", "False")])
def test_csrf_cookie_is_secure_unless_debug(debug, secure):
    code = "import server.settings as s; print(s.CSRF_COOKIE_SECURE)"
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        env={"DEBUG": debug, "PATH": "/usr/bin:/bin", "AUTHGATE_VAR_DIR": "/tmp/authgate-csrf-check"},
    )
    assert result.stdout.strip() == secure, result.stderr
