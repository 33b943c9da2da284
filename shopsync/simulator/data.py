"""Deterministic Shopify-shaped records: record i of a kind is a pure function of (seed, i).

Nothing is stored for generated records, so a store of 100,000 orders costs almost no
memory. Ids rise with i (the last ~2% above 2^53), and so do creation times.
"""

import hashlib
import math
import random
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import NamedTuple

ANCHOR = int(datetime(2025, 6, 1, tzinfo=UTC).timestamp())  # newest generated timestamp
SPAN = 730 * 86400  # generated history: two years up to ANCHOR
FLOAT_EXACT = 2**53  # ids above this lose precision as floats
MAX_ID = 2**63 - 1  # Shopify ids are signed 64-bit
ID_CEILING = MAX_ID - 2**40  # generated ids stay below, leaving room for created records
BIG_SHARE = 0.02  # share of generated ids above 2^53
STRIDE = 1000  # small ids are base + i * STRIDE + jitter
EDT, EST = timezone(timedelta(hours=-4)), timezone(timedelta(hours=-5))

FIRST = ["Olivia", "Liam", "José", "Zoë", "Mårten", "Chloé", "Søren", "Łukasz", "Siobhán",
         "Björn", "Ana", "Mohammed", "Yuki", "さくら", "Дмитрий", "Αλέξανδρος", "Renée",
         "李娜", "Émile", "Noor", "Fatoumata", "Kai 🌊", "Nguyễn", "Bob"]
LAST = ["Smith", "García", "Müller", "O'Brien", "Nørgaard", "Kowalski", "Dubois", "Çelik",
        "Tanaka", "王", "김", "Ivanova", "Papadopoulos", "da Silva", "Jönsson", "Núñez",
        "Okafor", "Håkansson", "Norman", "Straße"]
# (address1, city, province, province_code, country, country_code, zip, tax rate)
PLACES = [
    ("Chestnut Street 92", "Louisville", "Kentucky", "KY", "United States", "US", "40202", "0.06"),
    ("350 5th Avenue", "New York", "New York", "NY", "United States", "US", "10118", "0.08875"),
    ("Rue Sainte-Catherine 7", "Montréal", "Quebec", "QC", "Canada", "CA", "H2X 1Y4", "0.14975"),
    ("Bahnhofstrasse 1", "Zürich", "Zürich", "ZH", "Switzerland", "CH", "8001", "0.081"),
    ("Avenida Paulista 1578", "São Paulo", "São Paulo", "SP", "Brazil", "BR", "01310-200", "0.17"),
    ("丸の内1-1", "東京", "Tokyo", "JP-13", "Japan", "JP", "100-0005", "0.10"),
    ("Marienplatz 8", "München", "Bavaria", "BY", "Germany", "DE", "80331", "0.19"),
]
ADJECTIVES = ["Café", "Crème", "Nordic", "Señor", "Åland", "Classic", "Zen 禅", "Bold 🔥",
              "Rustic", "Über"]
NOUNS = ["Mug", "Backpack", "Poncho", "T-Shirt", "Tea Set 茶", "Sneakers", "Notebook", "Lamp",
         "Scarf", "Sticker Pack 🎉"]
VENDORS = ["Acme", "Ñandú Co.", "Brødrene", "東京堂", "Zoë & Co"]
OPTIONS = [("Size", ["S", "M", "L", "XL"]), ("Color", ["Rouge", "Bleu", "Grün", "黒"]),
           ("Material", ["Cotton", "Laine", "Seda"])]


class Row(NamedTuple):
    """What filters and ordering need to know about a record, without building it."""

    id: int
    created: int  # epoch seconds
    updated: int
    closed: bool = False
    cancelled: bool = False
    index: int = -1  # generation index when the record is as generated, else -1


def iso(ts):
    """Format epoch seconds as ISO 8601 in the shop's zone (US Eastern, DST by month)."""
    utc = datetime.fromtimestamp(ts, UTC)
    return utc.astimezone(EDT if 4 <= utc.month <= 10 else EST).isoformat()


def parse_time(value):
    """Return epoch seconds of an ISO 8601 string (a naive one is taken as UTC)."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def money(cents):
    """Format integer cents as Shopify does: "409.94", "-5.99"."""
    sign, cents = ("-" if cents < 0 else ""), abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def to_cents(value):
    """Parse a money string into integer cents (truncated past the cent)."""
    if isinstance(value, str):  # the usual "409.94" or "-5.99" without Decimal
        whole, _, part = value.removeprefix("-").partition(".")
        if len(part) == 2 and whole.isascii() and whole.isdigit() and part.isdigit():
            cents = int(whole) * 100 + int(part)
            return -cents if value[0] == "-" else cents
    return int(Decimal(value) * 100)


def ascii_slug(text, fallback):
    """Return a lowercase ASCII slug of `text` (for emails and handles)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = "".join(c if c.isalnum() else "-" for c in plain.lower()).strip("-")
    return "-".join(part for part in slug.split("-") if part) or fallback


def _bits(seed, kind, i):
    """Return 128 pseudo-random bits for record i of a kind."""
    digest = hashlib.blake2b(f"{seed}/{kind}/{i}".encode(), digest_size=16).digest()
    return int.from_bytes(digest, "big")


class IdLayout:
    """The strictly increasing ids of n generated records, as a lazy sequence (bisect-able)."""

    def __init__(self, seed, kind, n, base):
        self.seed, self.kind, self.n, self.base = seed, kind, n, base
        self.first_big = n - math.ceil(n * BIG_SHARE)
        self.big_step = (ID_CEILING - FLOAT_EXACT) // max(1, n - self.first_big)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.at(i, _bits(self.seed, self.kind, i))

    def at(self, i, bits):
        """Return the id of record i given its random bits (the first big id is 2^53 + 1)."""
        jitter = bits >> 64
        if i < self.first_big:
            return self.base + i * STRIDE + jitter % STRIDE
        j = i - self.first_big
        return FLOAT_EXACT + 1 + j * self.big_step + (jitter % (self.big_step - 1) if j else 0)

    @property
    def last(self):
        """Return the highest generated id (0 when there is none)."""
        return self[self.n - 1] if self.n else 0

    def index(self, record_id):
        """Return the generation index of an id, or None."""
        lo, hi = 0, self.n
        while lo < hi:
            mid = (lo + hi) // 2
            if self[mid] < record_id:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < self.n and self[lo] == record_id else None


class Factory:
    """Builds the generated records of one kind; subclasses add the record shape."""

    kind = ""
    base = 0

    def __init__(self, seed, n):
        self.seed, self.n = seed, n
        self.ids = IdLayout(seed, self.kind, n, self.base)

    def row(self, i):
        """Return the Row of generated record i (cheap: one hash)."""
        bits = _bits(self.seed, self.kind, i)
        created = ANCHOR - SPAN + (i * SPAN + (bits & 0xFFFF) * SPAN // 0x10000) // self.n
        age = ANCHOR - created
        updated = created + min(age, ((bits >> 16) & 0xFFFF) * 10 * 86400 // 0x10000)
        return Row(self.ids.at(i, bits), created, updated, *self.flags(bits), index=i)

    def index_range(self, lo, hi):
        """Return (start, stop): generated records created in [lo, hi] have indices in between."""
        lo, hi = max(lo, ANCHOR - SPAN - 1), min(hi, ANCHOR + 1)  # all generated times
        start = math.floor((lo - (ANCHOR - SPAN)) * self.n / SPAN) - 1
        stop = math.ceil((hi - (ANCHOR - SPAN)) * self.n / SPAN) + 2
        return max(0, min(self.n, start)), max(0, min(self.n, stop))

    def flags(self, bits):
        """Return (closed, cancelled) of a generated record."""
        return False, False

    def rng(self, i):
        """Return the random generator that details record i."""
        return random.Random(_bits(self.seed, self.kind + "/detail", i))

    def record(self, i):
        """Return generated record i."""
        return self.build(i, self.row(i))

    def build(self, i, row):
        """Return record i with the id, times and state of `row`."""
        raise NotImplementedError


def address(rng, first, last, place_index=None):
    """Return a Shopify address for a person."""
    street, city, province, code, country, cc, zip_code, _ = PLACES[
        rng.randrange(len(PLACES)) if place_index is None else place_index]
    return {"first_name": first, "last_name": last, "name": f"{first} {last}",
            "address1": street, "address2": "", "city": city, "company": None,
            "province": province, "province_code": code, "country": country,
            "country_code": cc, "zip": zip_code, "phone": None}


class CustomerFactory(Factory):
    """Customers with unicode names, addresses and order statistics."""

    kind, base = "customers", 6_200_000_000_000

    def build(self, i, row):
        rng = self.rng(i)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        orders_count = rng.choice([0, 1, 1, 2, 3, 5, 8])
        home = address(rng, first, last)
        home.update(id=row.id + 1, customer_id=row.id, default=True, country_name=home["country"])
        return {
            "id": row.id, "email": f"{ascii_slug(first, 'customer')}.{ascii_slug(last, 'x')}"
                                   f".{i}@example.com",
            "accepts_marketing": rng.random() < 0.3, "created_at": iso(row.created),
            "updated_at": iso(row.updated), "first_name": first, "last_name": last,
            "orders_count": orders_count,
            "state": rng.choice(["enabled", "enabled", "disabled", "invited"]),
            "total_spent": money(orders_count * rng.randrange(1500, 30000)),
            "last_order_id": None, "note": None, "verified_email": True,
            "multipass_identifier": None, "tax_exempt": False,
            "phone": f"+1502{rng.randrange(10**6, 10**7)}" if rng.random() < 0.7 else None,
            "tags": "", "last_order_name": None, "currency": "USD",
            "addresses": [home], "default_address": home,
            "admin_graphql_api_id": f"gid://shopify/Customer/{row.id}",
        }


class ProductFactory(Factory):
    """Products with one to four variants; variants are cheap to build alone for orders."""

    kind, base = "products", 8_100_000_000_000
    variant_base = 44_000_000_000_000

    def outline(self, i):
        """Return (title, vendor, base price in cents, option name, option values)."""
        rng = self.rng(i)
        title = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
        option, values = rng.choice(OPTIONS)
        count = rng.choice([1, 1, 2, 3, 4])
        return title, rng.choice(VENDORS), rng.randrange(499, 25000), option, values[:count]

    def variant(self, i, j, product_id, row, outline=None):
        """Return variant j of product i."""
        _, _, price, _, values = outline or self.outline(i)
        variant_id = self.variant_base + i * 10 + j
        title = values[j] if len(values) > 1 else "Default Title"
        return {
            "id": variant_id, "product_id": product_id, "title": title,
            "price": money(price + j * 100), "sku": f"SKU-{i:06d}-{j}", "position": j + 1,
            "inventory_policy": "deny", "compare_at_price": None,
            "fulfillment_service": "manual", "inventory_management": "shopify",
            "option1": title, "option2": None, "option3": None,
            "created_at": iso(row.created), "updated_at": iso(row.updated), "taxable": True,
            "barcode": None, "grams": 200 + 50 * j, "weight": 0.2, "weight_unit": "kg",
            "inventory_item_id": variant_id + 1_000_000_000_000,
            "inventory_quantity": (variant_id * 7) % 120, "requires_shipping": True,
            "admin_graphql_api_id": f"gid://shopify/ProductVariant/{variant_id}",
        }

    def build(self, i, row):
        outline = self.outline(i)
        title, vendor, _, option, values = outline
        return {
            "id": row.id, "title": title, "body_html": f"<p>{title}, made with care.</p>",
            "vendor": vendor, "product_type": title.split()[-1],
            "created_at": iso(row.created), "handle": f"{ascii_slug(title, 'product')}-{i}",
            "updated_at": iso(row.updated), "published_at": iso(row.created),
            "template_suffix": None, "status": "active", "published_scope": "web",
            "tags": "", "admin_graphql_api_id": f"gid://shopify/Product/{row.id}",
            "variants": [self.variant(i, j, row.id, row, outline) for j in range(len(values))],
            "options": [{"product_id": row.id, "name": option if len(values) > 1 else "Title",
                         "position": 1, "values": values if len(values) > 1
                         else ["Default Title"]}],
            "images": [], "image": None,
        }
