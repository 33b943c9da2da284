"""Shopify's webhook signature: base64 of HMAC-SHA256 over the raw body with the app secret."""

import base64
import hashlib
import hmac


def sign(body, secret):
    """Return the X-Shopify-Hmac-Sha256 value for `body` signed with `secret`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def is_authentic(body, signature, secrets):
    """Tell whether `signature` is the HMAC of `body` under one of `secrets` (constant time)."""
    if not signature:
        return False
    given = signature.strip().encode()
    return any(hmac.compare_digest(sign(body, s).encode(), given) for s in secrets if s)
