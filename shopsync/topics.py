"""The webhook topics shopsync acts on, each with its schema and its upsert service."""

from dataclasses import dataclass

from shopsync import privacy, schemas, sync
from shopsync.models import Customer, Order, Product


@dataclass(frozen=True)
class Topic:
    """How one topic's payload is checked and applied."""

    entity_type: str  # order, product, customer
    resource: str  # the Admin API resource: orders, products, customers
    schema: type
    apply: object  # callable(loaded_data) -> bool, True when the ERP changed
    is_privacy: bool = False  # a GDPR topic: its body names no single record to track
    model: type = None  # the ERP table the records land in
    apply_many: object = None  # callable(list of loaded data) -> set of ids that changed


ORDER = Topic("order", "orders", schemas.OrderSchema, sync.upsert_order, model=Order,
              apply_many=sync.upsert_orders)
PRODUCT = Topic("product", "products", schemas.ProductSchema, sync.upsert_product, model=Product,
                apply_many=sync.upsert_products)
CUSTOMER = Topic("customer", "customers", schemas.CustomerSchema, sync.upsert_customer,
                 model=Customer, apply_many=sync.upsert_customers)

TOPICS = {
    "orders/create": ORDER,
    "orders/updated": ORDER,
    "orders/paid": ORDER,
    "orders/cancelled": ORDER,
    "orders/fulfilled": ORDER,
    "orders/partially_fulfilled": ORDER,
    "orders/delete": Topic("order", "orders", schemas.DeletionSchema, sync.delete_order),
    "products/create": PRODUCT,
    "products/update": PRODUCT,
    "products/delete": Topic("product", "products", schemas.DeletionSchema, sync.delete_product),
    "customers/create": CUSTOMER,
    "customers/update": CUSTOMER,
    "customers/enable": CUSTOMER,
    "customers/disable": CUSTOMER,
    "customers/delete": Topic("customer", "customers", schemas.DeletionSchema,
                              sync.delete_customer),
}
# Privacy topics: Shopify requires every app to answer them and act within 30 days. They are
# configured in the app's settings, not subscribed through the API.
PRIVACY_TOPICS = {
    "customers/redact": Topic("customer", "customers", schemas.CustomerRedactSchema,
                              privacy.redact_customer, is_privacy=True),
    "customers/data_request": Topic("customer", "customers", schemas.DataRequestSchema,
                                    privacy.record_data_request, is_privacy=True),
    "shop/redact": Topic("shop", "shop", schemas.ShopRedactSchema, privacy.redact_shop,
                         is_privacy=True),
}

# The topics a store must be subscribed to through the API for shopsync to see every change.
REQUIRED_TOPICS = tuple(TOPICS)
TOPICS.update(PRIVACY_TOPICS)

# How a record pulled from the API is applied, by entity type and by API resource name.
ENTITIES = {"order": ORDER, "product": PRODUCT, "customer": CUSTOMER}
RESOURCES = {topic.resource: topic for topic in ENTITIES.values()}
