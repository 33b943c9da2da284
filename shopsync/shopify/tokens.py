"""Access tokens: a static one (legacy custom apps) or client-credentials grants (Dev Dashboard
apps), which expire after about a day.

A granted token is shared by every process through the database (a SyncState row), so web,
workers and the scheduler use one token and request a new one only when it is about to
expire or Shopify refused it. Requesting one takes a lease (another SyncState row, claimed by
a conditional UPDATE): the other processes wait for the new token instead of stampeding the
endpoint, and a holder that died loses its lease after LEASE seconds.
"""

import datetime as dt
import json
import time

import requests

from shopsync.db import db, utcnow
from shopsync.shopify.errors import ShopifyAccessError, ShopifyUnavailable

REFRESH_MARGIN = 300  # seconds before expiry a token is replaced (clock skew, long calls)
LEASE = 30  # seconds a process may take to obtain a token before another may try
POLL = 0.1  # seconds between looks at the database while another process obtains a token
TIMEOUT = (5.0, 30.0)


def as_tokens(access_token: "str | StaticToken | ClientCredentials") -> "StaticToken | ClientCredentials":
    """Return a token source: a string becomes a StaticToken."""
    return StaticToken(access_token or "") if isinstance(access_token, str) else access_token


class StaticToken:
    """A token that never changes (SHOPIFY_ACCESS_TOKEN); its scopes are not known here."""

    def __init__(self, token):
        self.token = token

    def get(self):
        """Return the token."""
        return self.token

    def refresh(self, refused):
        """Tell whether a new token is available after `refused` got 401: never."""
        return False

    def scopes(self):
        """Return the granted scopes, or None when unknown."""
        return None


class DatabaseTokenStore:
    """Keeps one app's current token and its refresh lease in SyncState rows."""

    def __init__(self, client_id):
        self.key, self.lease_key = f"token:{client_id}"[:64], f"token-lease:{client_id}"[:64]

    @staticmethod
    def _run(work):
        if db.is_closed():
            with db.connection_context():
                return work()
        return work()

    def load(self):
        """Return the stored token as a dict (token, expires_at, scope), or None."""
        from shopsync.models import SyncState

        row = self._run(lambda: SyncState.get_or_none(SyncState.key == self.key))
        return json.loads(row.value) if row and row.value else None

    def save(self, grant):
        """Store a new token for every process."""
        from shopsync.models import SyncState

        value = json.dumps(grant)
        self._run(lambda: SyncState.insert(key=self.key, value=value, updated_at=utcnow())
                  .on_conflict(conflict_target=[SyncState.key],
                               update={SyncState.value: value, SyncState.updated_at: utcnow()})
                  .execute())

    def acquire(self):
        """Claim the right to request a token for LEASE seconds; tell whether it was given."""
        from shopsync.models import SyncState

        def claim():
            now = utcnow()
            SyncState.insert(key=self.lease_key, value="", updated_at=now).on_conflict_ignore().execute()
            until = (now + dt.timedelta(seconds=LEASE)).isoformat()
            return SyncState.update(value=until, updated_at=now).where(
                (SyncState.key == self.lease_key) & (SyncState.value < now.isoformat())).execute()

        return self._run(claim) == 1

    def release(self):
        """Give the lease back."""
        from shopsync.models import SyncState

        self._run(lambda: SyncState.update(value="").where(SyncState.key == self.lease_key).execute())


class ClientCredentials:
    """Tokens obtained with an app's client id and secret, shared through a token store."""

    def __init__(self, token_url, client_id, client_secret, *, store=None, session=None,
                 margin=REFRESH_MARGIN, wait=LEASE * 2, sleep=time.sleep, now=utcnow):
        self.token_url, self.client_id, self.client_secret = token_url, client_id, client_secret
        self.store = store or DatabaseTokenStore(client_id)
        self.session = session or requests.Session()
        self.margin, self.wait, self.sleep, self.now = margin, wait, sleep, now
        self.grants = 0  # tokens this process obtained from Shopify
        self._grant = None

    def _fresh(self, grant, refused=None):
        if not grant or grant["access_token"] == refused:
            return False
        return self.now() < dt.datetime.fromisoformat(grant["refresh_at"])

    def get(self):
        """Return a token valid for at least `margin` seconds more."""
        if not self._fresh(self._grant):
            self._grant = self._obtain()
        return self._grant["access_token"]

    def refresh(self, refused):
        """Replace a token Shopify refused (401) with another; tell whether there is one."""
        self._grant = self._obtain(refused)
        return True

    def scopes(self):
        """Return the scopes granted with the current token."""
        if self._grant is None:
            self.get()
        return {scope.strip() for scope in self._grant.get("scope", "").split(",") if scope.strip()}

    def _obtain(self, refused=None):
        """Return a fresh grant: the one another process stored, or a new one from Shopify."""
        deadline = time.monotonic() + self.wait
        while True:
            grant = self.store.load()
            if self._fresh(grant, refused):
                return grant
            if self.store.acquire():
                try:
                    grant = self.store.load()  # stored while this process waited for the lease
                    if not self._fresh(grant, refused):
                        grant = self._request()
                        self.store.save(grant)
                    return grant
                finally:
                    self.store.release()
            if time.monotonic() > deadline:
                raise ShopifyUnavailable("timed out waiting for another process to obtain "
                                         "a Shopify access token")
            self.sleep(POLL)

    def _request(self):
        """Ask Shopify for a token by the client-credentials grant."""
        form = {"client_id": self.client_id, "client_secret": self.client_secret,
                "grant_type": "client_credentials"}
        try:
            response = self.session.post(self.token_url, data=form, timeout=TIMEOUT)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ShopifyUnavailable(f"POST {self.token_url}: {exc}") from exc
        if response.status_code >= 500:
            raise ShopifyUnavailable(f"POST {self.token_url}: HTTP {response.status_code}",
                                     response.status_code)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            reason = body.get("error_description") or body.get("error") or response.text[:200]
            raise ShopifyAccessError(f"Shopify refused the client credentials (HTTP "
                                     f"{response.status_code}: {reason}): check "
                                     f"SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET",
                                     response.status_code)
        self.grants += 1
        lifetime = int(body.get("expires_in") or 0)
        now = self.now()
        # Replaced `margin` seconds before it expires, or at 90% of a short lifetime.
        refresh_at = now + dt.timedelta(seconds=lifetime - min(self.margin, lifetime / 10))
        return {"access_token": body["access_token"], "scope": body.get("scope", ""),
                "expires_at": (now + dt.timedelta(seconds=lifetime)).isoformat(),
                "refresh_at": refresh_at.isoformat()}
