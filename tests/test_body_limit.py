"""SHOPSYNC_MAX_WEBHOOK_BYTES holds for chunked bodies too, under real gunicorn."""

import pytest
import requests

from shopsync.models import WebhookLog
from tests.helpers import encode, headers, order

LIMIT = 8000


def _chunked(body, size=500):
    """Yield `body` in pieces, so that requests sends it with Transfer-Encoding: chunked."""
    for start in range(0, len(body), size):
        yield body[start:start + size]


def _post_chunked(url, body, signed):
    hdrs = headers(signed, "orders/create")
    response = requests.post(f"{url}/webhooks/shopify", data=_chunked(body), headers=hdrs, timeout=10)
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    return response


@pytest.mark.services
def test_a_chunked_body_past_the_limit_gets_413_and_nothing_is_stored(processes):
    url = processes.web(workers=1, SHOPSYNC_MAX_WEBHOOK_BYTES=str(LIMIT))
    body = encode(order(note="x" * (3 * LIMIT)))
    # Signed over the whole body, and over only what fits: either way too large.
    assert _post_chunked(url, body, body).status_code == 413
    assert _post_chunked(url, body, body[:LIMIT]).status_code == 413
    assert WebhookLog.select().count() == 0


@pytest.mark.services
def test_a_chunked_body_up_to_the_limit_is_accepted(processes):
    url = processes.web(workers=1, SHOPSYNC_MAX_WEBHOOK_BYTES=str(LIMIT))
    small = encode(order())
    exact = encode(order(note="x" * (LIMIT - len(encode(order(note=""))))))
    assert len(exact) == LIMIT
    for body in (small, exact):
        response = _post_chunked(url, body, body)
        assert response.status_code == 200, response.text
    assert WebhookLog.select().count() == 2


@pytest.mark.parametrize("extra", [0, 1, 5000])
def test_a_stream_without_length_is_held_to_the_limit_in_process(app, client, extra):
    """The same rule through the WSGI interface gunicorn uses for chunked bodies."""
    import io

    app.config["MAX_CONTENT_LENGTH"] = LIMIT
    body = encode(order(note="x" * (LIMIT - len(encode(order(note=""))) + extra)))
    response = client.post("/webhooks/shopify", input_stream=io.BytesIO(body),
                           headers={**headers(body[:LIMIT], "orders/create"),
                                    "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == (200 if extra == 0 else 413)
    assert WebhookLog.select().count() == (1 if extra == 0 else 0)
