"""Pydantic models of the Dotdigital request bodies esp_sync sends."""

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def dump(self):
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class ResubscribeOptions(_Body):
    resubscribe_with_no_challenge: bool = Field(
        True, alias="resubscribeWithNoChallenge"
    )


class EmailChannel(_Body):
    # subscribed / unsubscribed / suppressed; None: unaltered for an existing
    # contact, subscribed for a new one (how a backfill keeps opt-outs).
    status: str | None = None
    opt_in_type: str | None = Field(None, alias="optInType")
    resubscribe_options: ResubscribeOptions | None = Field(
        None, alias="resubscribeOptions"
    )


class ChannelProperties(_Body):
    email: EmailChannel


class DataFieldCreate(_Body):
    name: str
    type: str = "String"
    visibility: str = "Private"


class ConsentRecord(_Body):
    text: str
    date_time_consented: str = Field(alias="dateTimeConsented")
    url: str
    ip_address: str = Field(alias="ipAddress")
    user_agent: str = Field(alias="userAgent")


class Identifiers(_Body):
    email: str


class ContactUpdate(_Body):
    """PATCH /contacts/v3/email/{email} (and one import row)."""

    match_identifier: str | None = Field(None, alias="matchIdentifier")
    identifiers: Identifiers
    data_fields: dict[str, str | float] | None = Field(None, alias="dataFields")
    lists: list[int] | None = None
    channel_properties: ChannelProperties | None = Field(
        None, alias="channelProperties"
    )
    consent_records: list[ConsentRecord] | None = Field(None, alias="consentRecords")


class ContactImport(_Body):
    merge_option: str = Field(alias="mergeOption")
    contacts: list[ContactUpdate]


class ContactIdentity(_Body):
    identifier: str = "email"
    value: str


class InsightRecord(_Body):
    key: str
    contact_identity: ContactIdentity | None = Field(None, alias="contactIdentity")
    json_: dict = Field(alias="json")


class InsightImport(_Body):
    collection_name: str = Field(alias="collectionName")
    collection_scope: str = Field("contact", alias="collectionScope")
    collection_type: str = Field("orders", alias="collectionType")
    records: list[InsightRecord]


class OrderProduct(_Body):
    """One order line inside an Orders record (no nested arrays allowed)."""

    id: str
    variant_id: str | None = Field(None, alias="variantId")
    sku: str | None = None
    name: str
    qty: float
    price: float
    total: float
    categories: str | None = None
    url: str | None = None
    image_url: str | None = Field(None, alias="imageUrl")


class OrderRecord(_Body):
    """The JSON of one record of the contact-scoped Orders collection."""

    id: str
    name: str
    status: str
    email: str
    currency: str
    purchase_date: str = Field(alias="purchaseDate")
    updated_at: str | None = Field(None, alias="updatedAt")
    order_subtotal: float = Field(alias="orderSubtotal")
    tax_total: float = Field(alias="taxTotal")
    delivery_total: float = Field(alias="deliveryTotal")
    order_total: float = Field(alias="orderTotal")
    gross_total: float = Field(alias="grossTotal")
    refunded_total: float = Field(alias="refundedTotal")
    financial_status: str | None = Field(None, alias="financialStatus")
    fulfillment_status: str | None = Field(None, alias="fulfillmentStatus")
    # When the release gate let post-purchase programs start (absent: held).
    released_at: str | None = Field(None, alias="releasedAt")
    products: list[OrderProduct] = Field(default_factory=list)


class CatalogVariant(_Body):
    id: str
    sku: str | None = None
    name: str
    price: float
    stock: float
    url: str | None = None
    image_url: str | None = Field(None, alias="imageUrl")


class CatalogRecord(_Body):
    """The JSON of one record of the account-scoped catalogue collection."""

    id: str
    name: str
    description: str | None = None
    sku: str | None = None
    price: float
    currency: str
    url: str | None = None
    image_url: str | None = Field(None, alias="imageUrl")
    categories: str | None = None
    variants: list[CatalogVariant] = Field(default_factory=list)
