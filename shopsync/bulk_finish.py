"""`bulk_operations/finish`: Shopify ended a bulk operation; the backfill waiting on it reads it now."""

from marshmallow import EXCLUDE, Schema, fields

from shopsync.bulk_run import BulkRun
from shopsync.db import utcnow


class BulkFinishSchema(Schema):
    """The body of `bulk_operations/finish`."""

    class Meta:
        unknown = EXCLUDE

    admin_graphql_api_id = fields.String(required=True)
    status = fields.String(required=True)
    error_code = fields.String(load_default=None, allow_none=True)
    completed_at = fields.String(load_default=None, allow_none=True)
    created_at = fields.String(load_default=None, allow_none=True)
    type = fields.String(load_default=None)


def note_finish(data):
    """Mark the operation ended, so its run asks Shopify for the outcome at once; no ERP change."""
    BulkRun.update(finished_at=utcnow(), updated_at=utcnow()).where(
        BulkRun.operation_id == data["admin_graphql_api_id"]).execute()
    return False
