"""Right to erasure at each ESP, against the sandbox (validated requests)."""

from providers import events
from providers.base import BackendSettings
from providers.dotdigital import adapter as dd_adapter
from providers.mailchimp import adapter as mc_adapter
from providers.mailchimp.util import subscriber_hash

EMAIL = "ada@example.com"
PROFILE = events.Profile(email=EMAIL, external_id="odoo-1-7", first_name="Ada")
ERASURE = events.Erasure(email=EMAIL)


def test_klaviyo_deletion_job_removes_profile_and_events(sb, make_order_event):
    from providers.klaviyo.adapter import KlaviyoAdapter

    settings = BackendSettings(
        provider="klaviyo", base_url=sb.url + "/klaviyo", api_key="pk_sandbox_erase"
    )
    adapter = KlaviyoAdapter(settings)
    adapter.upsert_profile(PROFILE)
    adapter.send_order_event(make_order_event())
    state = sb.state("klaviyo", "pk_sandbox_erase")
    assert len(state["profiles"]) == 1 and state["events"]
    adapter.erase_profile(ERASURE)
    state = sb.state("klaviyo", "pk_sandbox_erase")
    assert state["profiles"] == {} and state["events"] == []
    # Unknown to Klaviyo: still accepted (Klaviyo answers 202 either way).
    assert adapter.erase_profile(ERASURE).detail["action"] == "deletion requested"


def test_mailchimp_permanent_deletion_in_every_audience(sb):
    mc_adapter._merge_tags_cache.clear()
    settings = BackendSettings(
        provider="mailchimp",
        base_url=sb.url + "/mailchimp",
        api_key="sandbox-erase-us1",
        mailchimp_list_id="aud00001",
    )
    adapter = mc_adapter.MailchimpAdapter(settings)
    adapter.upsert_profile(PROFILE)
    result = adapter.erase_profile(
        events.Erasure(email=EMAIL, audiences=("aud00001", "aud-unknown"))
    )
    assert result.detail["deleted_in"] == ["aud00001"], "404 elsewhere: skipped"
    members = sb.state("mailchimp", "sandbox-erase-us1")["members"]["aud00001"]
    assert subscriber_hash(EMAIL) not in members


def test_dotdigital_contact_deleted(sb):
    dd_adapter._fields_cache.clear()
    settings = BackendSettings(
        provider="dotdigital",
        base_url=sb.url + "/dotdigital",
        api_user="apiuser-sandbox-erase@apiconnector.com",
        api_secret="sandbox-password",
        dotdigital_address_book_id="1",
    )
    adapter = dd_adapter.DotdigitalAdapter(settings)
    adapter.upsert_profile(PROFILE)
    assert adapter.erase_profile(ERASURE).detail == {"action": "deleted"}
    contacts = sb.state("dotdigital", "apiuser-sandbox-erase@apiconnector.com")[
        "contacts"
    ]
    assert contacts == {}
    assert adapter.erase_profile(ERASURE).detail == {"action": "unknown to Dotdigital"}
