"""Store records seen as GraphQL objects: GIDs, legacyResourceId, MoneyBag, enums, camelCase.

graphql-core reads a field as an attribute; a callable attribute is called with the field's
arguments (connections). Id and times come from the Row, so listing ids never builds a record.
"""

import time
from datetime import UTC, datetime

from shopsync.simulator.data import Row, parse_time
from shopsync.simulator.graphql import books
from shopsync.simulator.graphql.paging import connection

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
FULFILLMENT = {None: "UNFULFILLED", "partial": "PARTIALLY_FULFILLED", "fulfilled": "FULFILLED",
               "restocked": "RESTOCKED"}


def gid(kind, record_id):
    """Return the global id of a record, e.g. gid://shopify/Order/450789469."""
    return f"gid://shopify/{kind}/{record_id}"


def utc(value):
    """Return a time (epoch seconds or an ISO string) as GraphQL's UTC DateTime, or None."""
    if value is None:
        return None
    seconds = value if isinstance(value, int | float) else parse_time(value)
    if seconds == int(seconds):  # whole seconds, the usual: the faster formatter
        return time.strftime(UTC_FORMAT, time.gmtime(seconds))
    return datetime.fromtimestamp(seconds, UTC).strftime(UTC_FORMAT)


def money(amount, currency):
    """Return a MoneyV2."""
    return {"amount": amount, "currencyCode": currency}


def money_bag(amount, currency):
    """Return a MoneyBag whose shop and presentment amounts are the same."""
    return None if amount is None else {"shopMoney": money(amount, currency),
                                        "presentmentMoney": money(amount, currency)}


def mailing_address(address):
    """Return a MailingAddress from a REST address, or None."""
    if not address:
        return None
    return {"id": gid("MailingAddress", address.get("id") or 0),
            "firstName": address.get("first_name"), "lastName": address.get("last_name"),
            "name": address.get("name"), "company": address.get("company"),
            "address1": address.get("address1"), "address2": address.get("address2"),
            "city": address.get("city"), "province": address.get("province"),
            "provinceCode": address.get("province_code"), "country": address.get("country"),
            "countryCodeV2": address.get("country_code"), "zip": address.get("zip"),
            "phone": address.get("phone")}


def _upper(value):
    return value.upper() if value else None


class Node:
    """A record of a collection as a GraphQL object; fields beyond the Row's built once."""

    typename = ""

    def __init__(self, collection, row, record=None, store=None):
        self.collection, self.row, self._record, self.store = collection, row, record, store
        self._fields = None

    @property
    def record(self):
        """Return the REST record (shared: read only)."""
        if self._record is None:
            self._record = self.collection.record(self.row)
        return self._record

    @property
    def id(self):
        return gid(self.typename, self.row.id)

    @property
    def legacyResourceId(self):  # noqa: N802 (GraphQL's name)
        return str(self.row.id)

    @property
    def createdAt(self):  # noqa: N802
        return utc(self.row.created)

    @property
    def updatedAt(self):  # noqa: N802
        return utc(self.row.updated)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if self._fields is None:
            self._fields = self.fields(self.record)
        return self._fields.get(name)

    def fields(self, record):
        """Return the other fields of the object, from the REST record."""
        raise NotImplementedError


class OrderNode(Node):
    typename = "Order"

    def fields(self, r):
        currency = r.get("currency") or "USD"
        lines = [LineItemNode(line, currency, r) for line in r.get("line_items") or []]
        customer = r.get("customer")
        return {
            "name": r.get("name"), "email": r.get("email"), "processedAt": utc(r.get("processed_at")),
            "cancelledAt": utc(r.get("cancelled_at")), "cancelReason": _upper(r.get("cancel_reason")),
            "closedAt": utc(r.get("closed_at")), "closed": r.get("closed_at") is not None,
            "test": bool(r.get("test")), "currencyCode": currency,
            "displayFinancialStatus": _upper(r.get("financial_status")),
            "displayFulfillmentStatus": FULFILLMENT.get(r.get("fulfillment_status"), "UNFULFILLED"),
            "subtotalPriceSet": books.money_bag(r, "subtotal_price", currency),
            "totalTaxSet": books.money_bag(r, "total_tax", currency),
            "totalDiscountsSet": books.money_bag(r, "total_discounts", currency),
            "totalPriceSet": books.money_bag(r, "total_price", currency),
            "customer": EmbeddedCustomer(customer) if customer else None,
            "shippingAddress": mailing_address(r.get("shipping_address")),
            "lineItems": lambda info, **args: connection(lines, args, lambda line: line.key),
            **books.order_fields(r, currency, {line.key: line for line in lines},
                                 list(self.store.transactions.get(r["id"], [])) if self.store else []),
        }


class LineItemNode:
    """One line of an order."""

    typename = "LineItem"

    def __init__(self, line, currency, order):
        self.key = line["id"]
        self.id = gid("LineItem", line["id"])
        self.title, self.variantTitle = line.get("title"), line.get("variant_title")
        self.sku, self.quantity = line.get("sku"), line.get("quantity")
        self.originalUnitPriceSet = money_bag(line.get("price"), currency)
        self.totalDiscountSet = books.money_bag(line, "total_discount", currency)
        self.discountAllocations = books.allocations(line, order, currency)
        product, variant = line.get("product_id"), line.get("variant_id")
        self.product = Reference("Product", product) if product else None
        self.variant = Reference("ProductVariant", variant) if variant else None


class Reference:
    """A record referred to by id only (what a line item knows of its product)."""

    def __init__(self, typename, record_id):
        self.typename, self.id, self.legacyResourceId = typename, gid(typename, record_id), str(record_id)


class CustomerNode(Node):
    typename = "Customer"

    def fields(self, r):
        return {
            "email": r.get("email"), "firstName": r.get("first_name"),
            "lastName": r.get("last_name"), "phone": r.get("phone"),
            "state": _upper(r.get("state")) or "DISABLED",
            "numberOfOrders": str(r.get("orders_count") or 0),
            "amountSpent": money(r.get("total_spent") or "0.00", r.get("currency") or "USD"),
            "defaultAddress": mailing_address(r.get("default_address")),
        }


class EmbeddedCustomer(CustomerNode):
    """The customer embedded in an order, as of the order's last change."""

    def __init__(self, record):
        row = Row(record["id"], parse_time(record["created_at"]), parse_time(record["updated_at"]))
        super().__init__(None, row, record)


class ProductNode(Node):
    typename = "Product"

    def fields(self, r):
        variants = [VariantNode(v, self) for v in r.get("variants") or []]
        tags = [tag.strip() for tag in (r.get("tags") or "").split(",") if tag.strip()]
        return {
            "title": r.get("title"), "handle": r.get("handle"), "vendor": r.get("vendor"),
            "productType": r.get("product_type"), "status": _upper(r.get("status")) or "ACTIVE",
            "tags": tags,
            "variants": lambda info, **args: connection(variants, args, lambda v: v.key),
        }


class VariantNode:
    """One variant of a product."""

    typename = "ProductVariant"

    def __init__(self, variant, product):
        self.key = variant["id"]
        self.id, self.legacyResourceId = gid("ProductVariant", variant["id"]), str(variant["id"])
        self.title, self.sku, self.price = variant.get("title"), variant.get("sku"), variant.get("price")
        self.inventoryQuantity, self.position = variant.get("inventory_quantity"), variant.get("position")
        self.updatedAt, self.product = utc(variant.get("updated_at")), product


NODE_TYPES = {"orders": OrderNode, "products": ProductNode, "customers": CustomerNode}
KINDS = {cls.typename: kind for kind, cls in NODE_TYPES.items()}
