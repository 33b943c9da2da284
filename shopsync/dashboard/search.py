"""One search box: an order name, a Shopify id, an email, a SKU or a webhook id finds its record."""

import re

from flask import redirect, render_template, request, url_for
from peewee import fn

from shopsync.auth import login_required
from shopsync.dashboard import PAGE_SIZE, bp
from shopsync.models import Customer, Order, OrderLineItem, Product, ProductVariant, WebhookLog
from shopsync.schemas import MAX_BIGINT

ORDER_NAME = re.compile(r"#?\d{1,18}")


def _match(entity, shopify_id, label, why):
    """Return one search hit."""
    return {"entity": entity, "shopify_id": shopify_id, "label": label, "why": why,
            "url": url_for("dashboard.record", entity=entity, shopify_id=shopify_id)}


def _by_number(number, text):
    """Find records whose Shopify id is `number`, or orders named or numbered so."""
    hits = []
    for entity, model in (("order", Order), ("product", Product), ("customer", Customer)):
        if model.select().where(model.shopify_id == number).exists():
            hits.append(_match(entity, number, f"{entity} {number}", "Shopify id"))
    variant = ProductVariant.get_or_none(ProductVariant.shopify_id == number)
    if variant is not None:
        hits.append(_match("product", variant.product_shopify_id,
                           f"product {variant.product_shopify_id}", f"variant {number}"))
    name = text if text.startswith("#") else f"#{text}"
    orders = Order.select(Order.shopify_id, Order.name).where(
        (Order.name == name) | (Order.order_number == number)).limit(PAGE_SIZE)
    hits += [_match("order", o.shopify_id, o.name or f"order {o.shopify_id}", "order name")
             for o in orders if o.shopify_id != number]
    return hits


def _by_email(email):
    """Find customers and orders with this email, whatever its case."""
    address = email.lower()
    customers = Customer.select(Customer.shopify_id, Customer.email).where(
        fn.LOWER(Customer.email) == address).limit(PAGE_SIZE)
    orders = Order.select(Order.shopify_id, Order.name).where(
        fn.LOWER(Order.email) == address).order_by(Order.created_at.desc()).limit(PAGE_SIZE)
    return ([_match("customer", c.shopify_id, c.email, "email") for c in customers]
            + [_match("order", o.shopify_id, o.name or f"order {o.shopify_id}", "email")
               for o in orders])


def _by_sku(sku):
    """Find the products with a variant of this SKU and the orders with a line of it."""
    variants = ProductVariant.select(ProductVariant.product_shopify_id).where(
        ProductVariant.sku == sku).distinct().limit(PAGE_SIZE)
    orders = (Order.select(Order.shopify_id, Order.name).join(OrderLineItem)
              .where(OrderLineItem.sku == sku).distinct().limit(PAGE_SIZE))
    return ([_match("product", v.product_shopify_id, f"product {v.product_shopify_id}", "SKU")
             for v in variants]
            + [_match("order", o.shopify_id, o.name or f"order {o.shopify_id}", "SKU in a line")
               for o in orders])


def find(text):
    """Return the records (and webhook) that `text` names, best guesses first."""
    text = text.strip()
    if not text:
        return []
    hits = []
    if ORDER_NAME.fullmatch(text) and int(text.lstrip("#")) <= MAX_BIGINT:
        hits += _by_number(int(text.lstrip("#")), text)
    elif "@" in text:
        hits += _by_email(text)
    hits += _by_sku(text) if not hits else []
    if WebhookLog.select().where(WebhookLog.id == text).exists():
        hits.append({"entity": "webhook", "label": text, "why": "webhook id",
                     "url": url_for("dashboard.webhook", webhook_id=text)})
    return hits


@bp.get("/search")
@login_required
def search():
    """Find an order, product, customer or webhook; go straight to it when only one matches."""
    text = request.args.get("q", "")[:200]
    hits = find(text)
    if len(hits) == 1:
        return redirect(hits[0]["url"])
    return render_template("dashboard/search.html", text=text, hits=hits)
