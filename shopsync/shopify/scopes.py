"""The access scopes shopsync needs, by the resource each one reads."""

SCOPES = {"orders": "read_orders", "products": "read_products", "customers": "read_customers"}
