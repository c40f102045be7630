"""Data minimisation: the preview shows the exact writes, sends nothing."""

from providers import events
from providers.base import BackendSettings
from providers.dotdigital import adapter as dotdigital
from providers.mailchimp import adapter as mailchimp
from providers.preview import as_text, preview

SECRET = "pk_preview_secret_0123456789"


def _profile():
    consent = events.Consent(
        email="ada@example.com",
        external_id="odoo-1-7",
        status=events.ConsentStatus.SUBSCRIBED,
    )
    return events.Profile(
        email="ada@example.com",
        external_id="odoo-1-7",
        first_name="Ada",
        properties={"Order Count": 2},
        consent=consent,
    )


def test_klaviyo_profile_preview_is_the_exact_body_without_credentials():
    settings = BackendSettings(
        provider="klaviyo", base_url="https://a.klaviyo.com", api_key=SECRET
    )
    writes, note = preview(settings, "upsert_profile", _profile())
    assert note == ""
    (write,) = writes
    assert (write.method, write.path) == ("POST", "/api/profile-import")
    attributes = write.body["data"]["attributes"]
    assert attributes["email"] == "ada@example.com"
    assert attributes["properties"]["Order Count"] == 2
    text = as_text(writes, note)
    assert SECRET not in text and "ada@example.com" in text


def test_previews_teach_the_real_caches_nothing():
    mailchimp._merge_tags_cache.clear()
    dotdigital._fields_cache.clear()
    chimp = BackendSettings(
        provider="mailchimp", base_url="", api_key="abc-us6", mailchimp_list_id="L1"
    )
    writes, _note = preview(chimp, "upsert_profile", _profile())
    assert [w.method for w in writes] == ["POST", "PUT"]  # merge field, member
    dd = BackendSettings(
        provider="dotdigital",
        base_url="https://r1-api.dotdigital.com",
        api_user="u@apiconnector.com",
        api_secret="pw",
        dotdigital_address_book_id="1",
    )
    writes, _note = preview(dd, "upsert_profile", _profile())
    assert writes[-1].path == "/contacts/v3/email/ada@example.com"
    assert mailchimp._merge_tags_cache == {}
    assert dotdigital._fields_cache == {}


def test_a_skipped_delivery_says_why():
    chimp = BackendSettings(
        provider="mailchimp", base_url="", api_key="abc-us6", mailchimp_list_id="L1"
    )
    writes, note = preview(chimp, "update_consent", _profile().consent)
    assert writes == [] and note.startswith("Nothing would be sent")
