"""Klaviyo client (Odoo-free): const, payloads, builders, errors, adapter,
catalog, bulk and inbound, like the other ESPs."""

from .adapter import KlaviyoAdapter
from .bulk import chunk_events, chunk_profiles

__all__ = ["KlaviyoAdapter", "chunk_events", "chunk_profiles"]
