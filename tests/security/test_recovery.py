"""
Threats to account recovery and verification (SECURITY.md, "Account recovery"):

- enumeration: a reset request answers with the same status, body and similar time
  whether the address is an active account's, an inactive one's or nobody's;
- mail flooding: reset and verification mails are limited per address and per IP, and the
  throttled answer is the same for known and unknown addresses;
- reset-link theft through a forged Host header: the link's origin is checked against
  ALLOWED_HOSTS before anything is sent;
- verification bypass: a verification link proves one address of one user, once.

Mail goes through a real SMTP server on loopback (tests/support/smtp.py).
"""

import statistics
import time

from django.test import override_settings

from authgate import recovery
from authgate.mail import outbox

from ..conftest import PASSWORD, bearer
from ..support.smtp import smtp, smtp_server  # noqa: F401  (fixtures)
from .test_enumeration import OwaspArgon2PasswordHasher  # noqa: F401  (named in settings)

ATTACKER_IP = "203.0.113.66"
ROUNDS = 100  # timing samples of each kind
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


@override_settings(
    PASSWORD_HASHERS=["tests.security.test_enumeration.OwaspArgon2PasswordHasher"],
    AUTHGATE={"MAIL_THROTTLE": {"EMAIL": "1000/1h", "IP": "1000/1h"}},
)
def test_reset_timing_does_not_reveal_whether_the_address_is_known(api_client, make_user, smtp, capsys):
    """Statistical property, not a speed limit, measured as the login timing is: over 100
    pairs of a reset request for a known and for an unknown address, sent back to back
    (alternating which goes first, so that load affects both alike), the median of the
    pairs' differences is within 20% of the median request time. An unknown address
    composes the mail all the same; both hand their mail to the background sender, which
    sends one and only serialises the other."""
    make_user("alice")
    samples = {"known": [], "unknown": []}
    delivered = 0
    for i in range(ROUNDS + 1):
        # One address of each kind, so that both throttle counts exist after the first round.
        pair = [("known", "alice@example.com"), ("unknown", "ghost@example.com")]
        for kind, email in pair if i % 2 else pair[::-1]:  # alternate which goes first
            started = time.perf_counter()
            response = reset(api_client, email)
            elapsed = time.perf_counter() - started
            assert response.status_code == 202
            if i:  # the first round warms caches and templates
                samples[kind].append(elapsed)
            # The mail of the known address is delivered before the next request, so that
            # its sending is not charged to whichever kind comes next.
            outbox.flush()
            delivered += kind == "known"
            smtp.wait_for("alice@example.com", delivered)
    known, unknown = statistics.median(samples["known"]), statistics.median(samples["unknown"])
    typical = statistics.median(samples["known"] + samples["unknown"])
    paired = statistics.median(k - u for k, u in zip(samples["known"], samples["unknown"]))
    with capsys.disabled():
        print(
            f"\npassword reset request, {ROUNDS} pairs: median known {known * 1000:.2f} ms, "
            f"unknown {unknown * 1000:.2f} ms; median paired difference {paired * 1000:+.2f} ms "
            f"({paired / typical:+.1%} of the median request)"
        )
    assert abs(paired) / typical <= 0.20, (known, unknown, paired)


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
