"""The client-credentials grant of a Dev Dashboard app: expiring access tokens and their scopes."""

import hmac
import secrets
import threading
import time

DEFAULT_CLIENT_ID = "sim-client-id"
DEFAULT_SCOPES = ("read_orders", "read_all_orders", "read_products", "read_customers")
DEFAULT_LIFETIME = 86399  # seconds, Shopify's expires_in


class Tokens:
    """Issues access tokens for one app's client id and secret; each expires after `lifetime`."""

    def __init__(self, client_id=DEFAULT_CLIENT_ID, client_secret="", lifetime=DEFAULT_LIFETIME,
                 scopes=DEFAULT_SCOPES, clock=time.monotonic):
        self.client_id, self.client_secret = client_id, client_secret
        self.lifetime, self.scopes, self.clock = lifetime, tuple(scopes), clock
        self.issued = 0  # tokens handed out
        self.delay = 0.0  # seconds each grant takes (to make concurrent requests overlap)
        self._expiry = {}  # token -> clock value it expires at
        self._lock = threading.Lock()

    def grant(self, form):
        """Return (status, body) answering a POST to /admin/oauth/access_token."""
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type",
                         "error_description": "grant_type must be client_credentials"}
        good_id = hmac.compare_digest(str(form.get("client_id", "")).encode(),
                                      self.client_id.encode())
        good_secret = hmac.compare_digest(str(form.get("client_secret", "")).encode(),
                                          self.client_secret.encode())
        if not (good_id and good_secret and self.client_secret):
            return 401, {"error": "invalid_client",
                         "error_description": "Client authentication failed"}
        time.sleep(self.delay)
        token = f"shpca_{secrets.token_hex(16)}"
        with self._lock:
            now = self.clock()
            self._expiry = {t: at for t, at in self._expiry.items() if at > now}
            self._expiry[token] = now + self.lifetime
            self.issued += 1
        return 200, {"access_token": token, "scope": ",".join(self.scopes),
                     "expires_in": int(self.lifetime)}

    def valid(self, token):
        """Tell whether `token` was issued here and has not expired."""
        with self._lock:
            expiry = self._expiry.get(token)
        return expiry is not None and self.clock() < expiry

    def expire_all(self):
        """Make every issued token expire now (as if a day had passed)."""
        with self._lock:
            self._expiry.clear()
