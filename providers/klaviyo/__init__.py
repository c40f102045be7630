"""Klaviyo client: payload models, constants and the adapter."""

from .adapter import KlaviyoAdapter, chunk_events, chunk_profiles

__all__ = ["KlaviyoAdapter", "chunk_events", "chunk_profiles"]
