"""Reconciliation read-back at each ESP, against the sandbox."""

from providers import events
from providers.base import BackendSettings
from providers.dotdigital import adapter as dd_adapter
from providers.mailchimp import adapter as mc_adapter

S = events.ConsentStatus


def _profile(email, status=S.NEVER, spend=10.0):
    consent = events.Consent(email=email, external_id=email, status=status)
    return events.Profile(
        email=email,
        external_id=email,
        first_name="Ada",
        last_name="Lovelace",
        properties={"Total Spend": spend},
        consent=consent,
    )


def test_klaviyo_reads_many_profiles_with_consent(sb):
    from providers.klaviyo.adapter import KlaviyoAdapter

    adapter = KlaviyoAdapter(
        BackendSettings(
            provider="klaviyo", base_url=sb.url + "/klaviyo", api_key="pk_sandbox_reco"
        )
    )
    emails = [f"p{i}@example.com" for i in range(120)]  # two pages of 100
    for email in emails[:110]:
        adapter.upsert_profile(_profile(email))
    adapter.update_consent(_profile(emails[0], S.SUBSCRIBED).consent)
    adapter.update_consent(_profile(emails[1], S.UNSUBSCRIBED).consent)
    found = adapter.read_profiles(emails, ["Total Spend", "Absent"])
    assert len(found) == 110, "the 10 unknown addresses are absent"
    assert found[emails[0]].consent == "subscribed"
    assert found[emails[1]].consent == "unsubscribed"
    assert found[emails[2]].consent == "never"
    assert found[emails[2]].properties == {"Total Spend": 10.0}
    assert found[emails[2]].first_name == "Ada"


def test_mailchimp_reads_members(sb):
    mc_adapter._merge_tags_cache.clear()
    adapter = mc_adapter.MailchimpAdapter(
        BackendSettings(
            provider="mailchimp",
            base_url=sb.url + "/mailchimp",
            api_key="sandbox-reco-us1",
            mailchimp_list_id="aud00001",
        )
    )
    adapter.upsert_profile(_profile("a@example.com", S.SUBSCRIBED, spend=12.5))
    found = adapter.read_profiles(["a@example.com", "b@example.com"], ["Total Spend"])
    assert set(found) == {"a@example.com"}
    remote = found["a@example.com"]
    assert (remote.consent, remote.first_name) == ("subscribed", "Ada")
    assert remote.properties == {"Total Spend": "12.5"}


def test_dotdigital_reads_contacts(sb):
    dd_adapter._fields_cache.clear()
    adapter = dd_adapter.DotdigitalAdapter(
        BackendSettings(
            provider="dotdigital",
            base_url=sb.url + "/dotdigital",
            api_user="apiuser-sandbox-reco@apiconnector.com",
            api_secret="sandbox-password",
            dotdigital_address_book_id="1",
        )
    )
    adapter.upsert_profile(_profile("a@example.com"))
    found = adapter.read_profiles(["a@example.com", "b@example.com"], ["Total Spend"])
    assert set(found) == {"a@example.com"}
    remote = found["a@example.com"]
    assert remote.consent == "never", "created neutral (outside the address book)"
    assert float(remote.properties["Total Spend"]) == 10.0
    assert remote.last_name == "Lovelace"
