"""Property-based: whatever arrives, nothing crashes and every authentic delivery is accounted for."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopsync.models import FailedSyncItem, WebhookLog, WebhookStatus
from shopsync.topics import TOPICS
from tests.helpers import encode, headers, order

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=20,
)
# Order-like documents with some fields replaced by arbitrary JSON.
mutated_orders = st.builds(
    lambda changes: order(**changes),
    st.dictionaries(st.sampled_from(["id", "total_price", "updated_at", "line_items", "customer",
                                     "created_at", "currency", "shipping_address", "name"]),
                    json_values, max_size=3),
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    mutated_orders.map(encode),
)
topics = st.sampled_from([*TOPICS, "app/uninstalled", "", "orders/???", "ORDERS/CREATE"])
header_noise = st.dictionaries(
    st.sampled_from(["X-Shopify-Webhook-Id", "X-Shopify-Triggered-At", "X-Shopify-Shop-Domain",
                     "X-Shopify-API-Version", "X-Shopify-Event-Id"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200),
    max_size=3,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, topic=topics, noise=header_noise)
def test_any_authentic_delivery_ends_processed_ignored_or_failed(client, run_jobs, body, topic, noise):
    hdrs = {**headers(body, topic), **noise}
    response = client.post("/webhooks/shopify", data=body, headers=hdrs)
    assert response.status_code == 200, response.get_data(as_text=True)
    run_jobs()
    hook = WebhookLog.get_by_id(response.json["id"])
    assert hook.status is not WebhookStatus.PENDING
    if response.json["status"] != "duplicate":  # a reused webhook id keeps the first body
        assert bytes(hook.raw_body) == body
    if hook.status is WebhookStatus.FAILED:
        assert hook.error
        # One failed item per record (linked to its latest failure), or per unreadable delivery.
        if hook.shopify_id is None:
            mine = FailedSyncItem.webhook == hook.id
        else:
            mine = ((FailedSyncItem.entity_type == TOPICS[hook.topic].entity_type)
                    & (FailedSyncItem.shopify_id == hook.shopify_id))
        assert FailedSyncItem.select().where(mine).exists()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, signature=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60))
def test_unsigned_deliveries_are_refused_and_never_stored(client, body, signature):
    hdrs = headers(body, "orders/create")
    hdrs["X-Shopify-Hmac-Sha256"] = signature
    before = WebhookLog.select().count()
    response = client.post("/webhooks/shopify", data=body, headers=hdrs)
    assert response.status_code == 401
    assert WebhookLog.select().count() == before
