"""Consent of a Klaviyo profile import: opt-outs travel with the backfill.

A profile import job cannot carry subscriptions, so a profile it creates is
never subscribed. People Odoo knows as blacklisted are suppressed, and those
who unsubscribed are unsubscribed, by bulk jobs sent with the import; people
who never opted in stay never subscribed, and nobody is subscribed here.
"""

from ..events import ConsentStatus
from . import builders as b
from . import const

MAX_EMAILS_PER_JOB = 100  # Klaviyo's limit for suppression/unsubscribe jobs


def opt_outs(profiles):
    """``(suppressed, unsubscribed)`` email lists of ``profiles``."""
    suppressed, unsubscribed = [], []
    for profile in profiles:
        consent = profile.consent
        if consent is None:
            continue
        if consent.suppressed:
            suppressed.append(profile.email)
        elif ConsentStatus(consent.status) == ConsentStatus.UNSUBSCRIBED:
            unsubscribed.append(profile.email)
    return suppressed, unsubscribed


def send_opt_outs(adapter, profiles):
    """Suppress and unsubscribe the opted-out ``profiles``; return the calls."""
    suppressed, unsubscribed = opt_outs(profiles)
    calls = 0
    for emails, path, build in (
        (suppressed, const.PATH_SUPPRESS_JOBS, b.build_suppress_request),
        (unsubscribed, const.PATH_UNSUBSCRIBE_JOBS, b.build_unsubscribe_request),
    ):
        for start in range(0, len(emails), MAX_EMAILS_PER_JOB):
            chunk = emails[start : start + MAX_EMAILS_PER_JOB]
            adapter._request("POST", path, json=build(chunk).dump())
            calls += 1
    return calls
