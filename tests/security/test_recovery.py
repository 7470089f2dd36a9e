"""
Threats to account recovery and verification (SECURITY.md, "Account recovery"):

- enumeration: a reset request answers with the same status, body and similar time
  whether the address is an active account's, an inactive one's or nobody's, after the
  same work (the same queries, one mail composed: sent or dropped);
- mail flooding: reset and verification mails are limited per address and per IP, and the
  throttled answer is the same for known and unknown addresses;
- reset-link theft through a forged Host header: the link's origin is checked against
  ALLOWED_HOSTS before anything is sent;
- verification bypass: a verification link proves one address of one user, once.

Mail goes through a real SMTP server on loopback (tests/support/smtp.py).
"""

import re

from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from authgate import recovery
from authgate.mail import outbox

from ..conftest import PASSWORD, bearer
from ..support.smtp import smtp, smtp_server  # noqa: F401  (fixtures)

ATTACKER_IP = "203.0.113.66"
OTHER_IP = "198.51.100.7"


def reset(client, email, ip=ATTACKER_IP, **extra):
    return client.post("/api/auth/password/reset/", {"email": email}, format="json", REMOTE_ADDR=ip, **extra)


def assert_throttled(response):
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["code"] == "throttled"
    assert body["detail"].startswith("Too many emails asked for. Try again later. Expected available in ")
    assert int(response["Retry-After"]) > 0


# -- enumeration ---------------------------------------------------------------------------
def test_reset_answers_the_same_for_known_inactive_and_unknown_addresses(api_client, make_user, smtp):
    make_user("alice")
    make_user("sleepy", is_active=False)
    answers = [
        reset(api_client, email)
        for email in ("alice@example.com", "sleepy@example.com", "nobody@example.com", "ALICE@EXAMPLE.COM")
    ]
    assert {r.status_code for r in answers} == {202}
    assert len({(r.content, r.get("Content-Type")) for r in answers}) == 1
    assert len(smtp.wait_for("alice@example.com", 2)) == 2
    outbox.flush()
    assert smtp.to("sleepy@example.com") == [] and smtp.to("nobody@example.com") == []


@override_settings(AUTHGATE={"MAIL_THROTTLE": {"EMAIL": "1000/1h", "IP": "1000/1h"}})
def test_a_reset_request_does_the_same_work_for_a_known_and_an_unknown_address(api_client, make_user, monkeypatch):
    """What makes the two answers take the same time, checked without a clock: the same
    database queries (in number and in shape), and one mail composed for either — the known
    address's to be sent, the unknown's as a decoy the sender serialises and drops — both
    handed over while the request is still open, so that the sender starts only once the
    response has gone out. A timing comparison would be a speed test in disguise."""
    make_user("alice")
    handed: list[tuple[int, bool]] = []
    send = outbox.send

    def recorded_send(messages, decoys=()):
        messages, decoys = list(messages), list(decoys)
        handed.append((len(messages) + len(decoys), getattr(outbox._local, "batches", None) is not None))
        return send(messages, decoys)

    monkeypatch.setattr(outbox, "send", recorded_send)
    work = {}
    for email in ("alice@example.com", "ghost@example.com") * 2:  # the second round: counters exist
        handed.clear()
        with CaptureQueriesContext(connection) as queries:
            assert reset(api_client, email).status_code == 202
        shapes = [re.sub(r"'[^']*'|\b\d+\b", "?", q["sql"]) for q in queries.captured_queries]
        work[email] = (shapes, list(handed))
        outbox.flush()
    assert work["alice@example.com"][1] == work["ghost@example.com"][1] == [(1, True)]
    assert work["alice@example.com"][0] == work["ghost@example.com"][0]


# -- mail flooding -------------------------------------------------------------------------
def test_twelve_reset_requests_for_one_address_deliver_at_most_five_mails(api_client, make_user, smtp):
    make_user("alice")
    answers = [reset(api_client, "alice@example.com", ip=f"192.0.2.{i}") for i in range(12)]
    assert [r.status_code for r in answers] == [202] * 5 + [429] * 7
    for response in answers[5:]:
        assert_throttled(response)
    assert len(smtp.wait_for("alice@example.com", 5)) == 5
    outbox.flush()
    assert len(smtp.to("alice@example.com")) == 5


def test_throttled_answers_are_the_same_for_known_and_unknown_addresses(api_client, make_user, smtp):
    make_user("alice")
    for _ in range(5):
        reset(api_client, "alice@example.com")
        reset(api_client, "nobody@example.com", ip=OTHER_IP)
    known = reset(api_client, "alice@example.com")
    unknown = reset(api_client, "nobody@example.com", ip=OTHER_IP)
    assert_throttled(known)
    assert_throttled(unknown)
    # The same words; the wait is the same but for the rounding of the instants the two
    # counts began (the requests were interleaved).
    assert abs(int(known["Retry-After"]) - int(unknown["Retry-After"])) <= 1
    strip = lambda r: r.json()["detail"].rsplit(" in ", 1)[0]  # noqa: E731
    assert strip(known) == strip(unknown)


@override_settings(AUTHGATE={"MAIL_THROTTLE": {"EMAIL": "5/1h", "IP": "8/1h"}})
def test_the_per_ip_limit_spans_addresses(api_client, make_user, smtp):
    make_user("alice")
    for i in range(8):  # spraying addresses, each below its own limit
        assert reset(api_client, f"user{i}@example.com").status_code == 202
    assert_throttled(reset(api_client, "alice@example.com"))
    assert reset(api_client, "alice@example.com", ip=OTHER_IP).status_code == 202  # others unaffected


@override_settings(AUTHGATE={"MAIL_THROTTLE": {"EMAIL": "2/1h", "IP": "50/1h"}})
def test_verification_resends_and_email_changes_are_throttled_too(api_client, user, tokens_for, smtp):
    access = tokens_for(user)["access"]
    for _ in range(2):
        assert api_client.post("/api/auth/email/verify/resend/", **bearer(access)).status_code == 202
    assert_throttled(api_client.post("/api/auth/email/verify/resend/", **bearer(access)))
    # An account must not become a way to flood someone else's inbox by changing to it.
    for i in range(2):
        for address in ("victim@example.com", f"mine{i}@example.com"):
            response = api_client.patch(
                "/api/auth/me/", {"email": address, "password": PASSWORD}, format="json", **bearer(access)
            )
            assert response.status_code == 200
    response = api_client.patch(
        "/api/auth/me/", {"email": "victim@example.com", "password": PASSWORD}, format="json", **bearer(access)
    )
    assert_throttled(response)
    user.refresh_from_db()
    assert user.email == "alice@example.com"  # pending changes only, the address stays
    assert recovery.pending_email_of(user) == "mine1@example.com"  # throttled before anything was parked
    outbox.flush()
    subjects = sorted(m.subject.split(" ")[0] for m in smtp.to("victim@example.com"))
    assert subjects == ["Confirm", "Confirm"]  # two links, then the limit


# -- reset-link theft ----------------------------------------------------------------------
def test_a_forged_host_header_gets_no_link_sent(api_client, user, smtp):
    """Reset poisoning: the link is made absolute on the request's host; a host outside
    ALLOWED_HOSTS is refused (JSON 400) before anything is mailed."""
    response = reset(api_client, user.email, HTTP_HOST="attacker.example")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    response = reset(api_client, user.email, HTTP_X_FORWARDED_HOST="attacker.example")
    assert response.status_code == 202
    [message] = smtp.wait_for(user.email)
    assert message.link.startswith("http://testserver/")  # X-Forwarded-Host is not trusted


# -- verification bypass -------------------------------------------------------------------
def test_a_verification_link_cannot_verify_another_user_or_another_address(api_client, make_user, smtp):
    mallory, victim = make_user("mallory"), make_user("victim")
    link = {"uid": recovery.encode_uid(mallory), "token": recovery.verification_token_generator.make_token(mallory)}
    for forged in (
        {**link, "uid": recovery.encode_uid(victim)},
        {**link, "token": recovery.reset_token_generator.make_token(victim)},
    ):
        response = api_client.post("/api/auth/email/verify/", forged, format="json")
        assert response.status_code == 400 and response.json()["code"] == "invalid_link"
    mallory.email = "victim-address@example.com"  # a link for the old address proves nothing
    mallory.save()
    response = api_client.post("/api/auth/email/verify/", link, format="json")
    assert response.json()["code"] == "invalid_link"
    assert not recovery.is_email_verified(type(mallory).objects.get(pk=mallory.pk))
    assert not recovery.is_email_verified(type(victim).objects.get(pk=victim.pk))
