"""Pydantic models of the Mailchimp request bodies esp_sync sends.

Models only shape and check data; the adapter decides what to send.
``dump()`` drops unset values so optional fields are never sent empty.
"""

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def dump(self):
        return self.model_dump(mode="json", exclude_none=True)


class MergeAddress(_Body):
    """The ADDRESS merge field; Mailchimp rejects incomplete addresses."""

    addr1: str
    addr2: str | None = None
    city: str
    state: str = ""
    zip: str
    country: str | None = None


class MemberUpsert(_Body):
    """PUT /lists/{list_id}/members/{hash}: never carries ``status``."""

    email_address: str
    status_if_new: str
    merge_fields: dict[str, str | float | MergeAddress] = Field(default_factory=dict)
    tags: list[str] | None = None


class TagChange(_Body):
    name: str
    status: str  # active / inactive


class MemberTags(_Body):
    tags: list[TagChange]
    is_syncing: bool | None = None


class MergeFieldCreate(_Body):
    tag: str
    name: str
    type: str = "text"
    public: bool = False
    required: bool = False


class Customer(_Body):
    id: str = Field(max_length=50)
    email_address: str | None = None
    opt_in_status: bool | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None


class ProductVariant(_Body):
    id: str
    title: str
    sku: str | None = None
    price: float | None = None
    inventory_quantity: int | None = None
    url: str | None = None
    image_url: str | None = None


class Product(_Body):
    id: str
    title: str
    description: str | None = None
    url: str | None = None
    image_url: str | None = None
    variants: list[ProductVariant]


class OrderLine(_Body):
    id: str
    product_id: str
    product_variant_id: str
    quantity: int
    price: float


class Address(_Body):
    name: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    postal_code: str | None = None
    country: str | None = None
    country_code: str | None = None


class Order(_Body):
    """POST /ecommerce/stores/{store_id}/orders (and the PATCH subset)."""

    id: str | None = None
    customer: Customer | None = None
    currency_code: str | None = None
    order_total: float | None = None
    tax_total: float | None = None
    shipping_total: float | None = None
    processed_at_foreign: str | None = None
    cancelled_at_foreign: str | None = None
    updated_at_foreign: str | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    lines: list[OrderLine] | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None


class Store(_Body):
    id: str
    list_id: str
    name: str
    currency_code: str
    platform: str = "Odoo"
    is_syncing: bool | None = None


class StorePatch(_Body):
    is_syncing: bool


class BatchOperation(_Body):
    method: str
    path: str
    operation_id: str | None = None
    body: str | None = None  # JSON text, as the batches endpoint wants it
    params: dict[str, str] | None = None


class Batch(_Body):
    operations: list[BatchOperation]


class WebhookEvents(_Body):
    subscribe: bool = False
    unsubscribe: bool = False
    cleaned: bool = False
    profile: bool = False
    upemail: bool = False
    campaign: bool = False


class WebhookSources(_Body):
    user: bool = True
    admin: bool = True
    api: bool = False  # our own API writes must not echo back


class Webhook(_Body):
    url: str
    events: WebhookEvents
    sources: WebhookSources = Field(default_factory=WebhookSources)
