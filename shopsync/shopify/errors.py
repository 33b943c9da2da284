"""What can go wrong talking to Shopify."""


class ShopifyError(Exception):
    """A Shopify API call failed. `status` is the last HTTP status (None without a response)."""

    def __init__(self, message, status=None, errors=None):
        super().__init__(message)
        self.status, self.errors = status, errors


class ShopifyRequestError(ShopifyError):
    """Shopify refused the call (4xx other than 429, GraphQL errors): retrying would not help."""


class ShopifyUnavailable(ShopifyError):
    """Shopify kept failing (5xx, throttling, timeouts, connection errors) past the retry budget."""


class ShopifyAccessError(ShopifyRequestError):
    """The app may not do this: a token Shopify refuses, or a scope it was not granted."""
