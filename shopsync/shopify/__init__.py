"""Shopify Admin API clients: GraphQL or REST (SHOPIFY_ADMIN_API), with shared expiring tokens.

    client = app_client()   # the running app's store, per SHOPIFY_ADMIN_API
    for page in client.iter_pages("orders", updated_at_min=since): ...
"""

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from shopsync.config import DEFAULT_ADMIN_API, DEFAULT_API_VERSION
from shopsync.shopify.admin import AdminClient
from shopsync.shopify.errors import (
    ShopifyAccessError,
    ShopifyError,
    ShopifyRequestError,
    ShopifyUnavailable,
)
from shopsync.shopify.graphql import GraphQLClient
from shopsync.shopify.rest import ShopifyClient, next_page_info
from shopsync.shopify.tokens import ClientCredentials, StaticToken

APIS = {"graphql": AdminClient, "rest": ShopifyClient}
# A client of either API: both offer the same methods (iter_pages, count, get, webhooks...).
Client = AdminClient | ShopifyClient

__all__ = [
    "APIS", "AdminClient", "Client", "ClientCredentials", "GraphQLClient", "ShopifyAccessError",
    "ShopifyClient", "ShopifyError", "ShopifyRequestError", "ShopifyUnavailable", "StaticToken",
    "app_client", "base_url", "connect", "is_configured", "next_page_info", "token_source",
]


def base_url(config: Mapping[str, Any]) -> str:
    """Return the Admin API base URL: SHOPIFY_API_BASE_URL, or the shop's for the version."""
    url = config.get("SHOPIFY_API_BASE_URL")
    if url:
        return url.rstrip("/")
    shop = config.get("SHOPIFY_SHOP")
    if not shop:
        raise ValueError("set SHOPIFY_SHOP or SHOPIFY_API_BASE_URL")
    return f"https://{shop}/admin/api/{config.get('SHOPIFY_API_VERSION') or DEFAULT_API_VERSION}"


def token_source(config: Mapping[str, Any]) -> ClientCredentials | StaticToken:
    """Return the token source the settings describe: client credentials, else the static token."""
    client_id, secret = config.get("SHOPIFY_CLIENT_ID"), config.get("SHOPIFY_CLIENT_SECRET")
    if client_id and secret:
        parts = urlsplit(base_url(config))
        return ClientCredentials(f"{parts.scheme}://{parts.netloc}/admin/oauth/access_token",
                                 client_id, secret)
    return StaticToken(config.get("SHOPIFY_ACCESS_TOKEN") or "")


def connect(config: Mapping[str, Any], **options: Any) -> Client:
    """Return a client of the configured API (SHOPIFY_ADMIN_API: graphql or rest)."""
    api = (config.get("SHOPIFY_ADMIN_API") or DEFAULT_ADMIN_API).lower()
    if api not in APIS:
        raise ValueError(f"SHOPIFY_ADMIN_API must be graphql or rest, not {api!r}")
    return APIS[api](base_url(config), token_source(config), **options)


def is_configured(config: Mapping[str, Any]) -> bool:
    """Tell whether the settings name a store (SHOPIFY_SHOP, or SHOPIFY_API_BASE_URL)."""
    return bool(config.get("SHOPIFY_SHOP") or config.get("SHOPIFY_API_BASE_URL"))


def app_client(**options: Any) -> Client:
    """Return a client of the store the running app is configured for."""
    return connect(current_app.config, **options)
