"""The app's own 404 and 500 pages, with the navigation; JSON for programs."""


def text(response):
    return response.get_data(as_text=True)


def test_an_unknown_address_gets_the_dashboards_page_with_navigation(viewer_client, client):
    response = viewer_client.get("/no/such/page")
    assert response.status_code == 404 and "There is no page at this address" in text(response)
    assert 'aria-label="Dashboard"' in text(response) and 'action="/search"' in text(response)
    api = client.get("/api/admin/nope")
    assert api.status_code in (401, 404) and api.is_json


def test_an_unexpected_failure_gets_a_page_without_details(app, viewer_client, monkeypatch):
    from shopsync.dashboard import search

    app.config["PROPAGATE_EXCEPTIONS"] = False
    monkeypatch.setattr(search, "find", lambda text: 1 / 0)
    response = viewer_client.get("/search?q=x")
    assert response.status_code == 500
    assert "Something went wrong on our side" in text(response)
    assert "ZeroDivisionError" not in text(response) and 'aria-label="Dashboard"' in text(response)
