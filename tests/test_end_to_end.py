"""Real processes over real HTTP: gunicorn + worker.py + PostgreSQL + Redis."""

import json
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
import requests

from shopsync.models import FailedSyncItem, Order, WebhookLog, WebhookStatus
from shopsync.testing.processes import wait_until
from tests.helpers import ADMIN_TOKEN, encode, fixture, headers, order
from tests.test_poison import OVERFLOWING_TIME, POISONS, assert_waits_for_a_person

pytestmark = pytest.mark.services
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _post(url, topic, payload, webhook_id=None):
    body = payload if isinstance(payload, bytes) else encode(payload)
    return requests.post(f"{url}/webhooks/shopify", data=body,
                         headers=headers(body, topic, webhook_id), timeout=10)


def _stats(url):
    return requests.get(f"{url}/api/admin/stats", headers=AUTH, timeout=5).json()


def _processed(url, n):
    """Wait until `n` webhooks are done; return the stats read after that.

    The stats' counts are separate queries, so a drain committing between them can show the
    webhooks done before the records they made: the figures are read again once all are done.
    """
    def done():
        webhooks = _stats(url)["webhooks"]
        return webhooks["processed"] + webhooks["failed"] >= n

    wait_until(done, message=f"{n} webhooks processed")
    return _stats(url)


def test_signed_fixture_webhooks_become_erp_rows(processes):
    url = processes.web()
    processes.worker()
    assert _post(url, "customers/create", fixture("customer")).status_code == 200
    assert _post(url, "products/create", fixture("product")).status_code == 200
    assert _post(url, "orders/create", order()).status_code == 200
    assert _post(url, "orders/updated", b"not json").status_code == 200
    forged = encode(order(total_price="0.01"))
    bad = headers(forged, "orders/updated")
    bad["X-Shopify-Hmac-Sha256"] = "AAAA"
    assert requests.post(f"{url}/webhooks/shopify", data=forged, headers=bad).status_code == 401

    stats = _processed(url, 4)
    assert stats["orders"] == 1 and stats["products"] == 1 and stats["customers"] == 1
    assert stats["failed_items"]["open"] == 2  # the broken body, and the sample order's money
    erp = requests.get(f"{url}/api/admin/orders/450789469", headers=AUTH).json()
    assert erp["total_price"] == "409.94" and erp["customer_shopify_id"] == 207119551
    product = requests.get(f"{url}/api/admin/products/632910392", headers=AUTH).json()
    assert len(product["variants"]) == len(fixture("product")["variants"])


def _hammer(args):
    """Post one delivery `count` times from threads in this process; return status codes."""
    url, body, hdrs, count = args
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: requests.post(f"{url}/webhooks/shopify", data=body,
                                                     headers=hdrs, timeout=10).status_code,
                             range(count)))


def test_one_delivery_posted_in_parallel_is_stored_and_applied_once(processes):
    url = processes.web(workers=4)
    processes.worker()
    processes.worker()
    body = encode(order())
    hdrs = headers(body, "orders/create", "same-delivery")
    with ProcessPoolExecutor(4) as pool:
        codes = [c for batch in pool.map(_hammer, [(url, body, hdrs, 10)] * 4) for c in batch]
    assert codes == [200] * 40
    _processed(url, 1)
    hook = WebhookLog.get_by_id("same-delivery")
    assert WebhookLog.select().count() == 1
    assert hook.duplicates == 39 and hook.attempts == 1
    assert hook.status is WebhookStatus.PROCESSED and Order.select().count() == 1


def test_many_orders_from_many_posts_all_land(processes):
    url = processes.web(workers=3)
    processes.worker()
    ids = list(range(10_000_000_001, 10_000_000_061))
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: _post(url, "orders/create", order(id=i)).status_code, ids))
    assert set(codes) == {200}
    _processed(url, len(ids))
    assert sorted(o.shopify_id for o in Order.select()) == ids
    assert sorted(json.loads(bytes(hook.raw_body))["id"] for hook in WebhookLog.select()) == ids


def test_good_orders_behind_poisoned_deliveries_land_within_seconds(processes):
    url = processes.web()
    processes.worker()
    bodies = {f"poison-{n}": make(1000 + n) for n, (make, _) in enumerate(POISONS.values())}
    for webhook_id, body in bodies.items():
        assert _post(url, "orders/create", body, webhook_id).status_code == 200
    odd_header = headers(encode(order(id=1)), "orders/create", "odd-header",
                         **{"X-Shopify-Triggered-At": OVERFLOWING_TIME})
    assert requests.post(f"{url}/webhooks/shopify", data=encode(order(id=1)), headers=odd_header,
                         timeout=10).status_code == 200
    good = list(range(2000, 2020))
    assert {_post(url, "orders/create", order(id=i)).status_code for i in good} == {200}

    def landed():
        return Order.select().where(Order.shopify_id.in_([1, *good])).count() == len(good) + 1

    wait_until(landed, timeout=10, message="the good orders behind the poisons")
    _processed(url, len(bodies) + len(good) + 1)
    for (webhook_id, body), (_, named) in zip(bodies.items(), POISONS.values(), strict=True):
        assert_waits_for_a_person(webhook_id, body, named)
    stats = requests.get(f"{url}/api/admin/stats", headers=AUTH, timeout=5).json()
    # The sample order's money does not add up: its money items aside, only the poisons are open.
    money = FailedSyncItem.open().where(FailedSyncItem.entity_type == "money").count()
    assert stats["failed_items"]["open"] - money == len(bodies)
    assert stats["webhooks"]["pending"] == 0
