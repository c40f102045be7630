"""Local emulator of the Klaviyo, Mailchimp and Dotdigital APIs.

Run it with ``python -m sandbox`` or in-process::

    with Sandbox(port=0) as sb:
        base_url = sb.url + "/klaviyo"   # instead of https://a.klaviyo.com
"""

from .server import Sandbox

__all__ = ["Sandbox"]
