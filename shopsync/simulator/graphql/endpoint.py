"""POST /admin/api/{version}/graphql.json: parse, validate, cost, throttle, run, report cost.

As Shopify: every answer to an authenticated, well-formed request is HTTP 200, errors
included. Over the limit the error's `extensions.code` is THROTTLED and nothing runs.
"""

from functools import lru_cache

from flask import request
from graphql import (
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    validate,
)

from shopsync.simulator.graphql.cost import MAX_COST, MUTATION_COST, Costing
from shopsync.simulator.graphql.resolvers import Root
from shopsync.simulator.graphql.schema import SCHEMA

RATE_LIMITS_DOCS = "https://shopify.dev/api/usage/rate-limits"


def _resolve_type(value, info, abstract_type):
    return value["typename"] if isinstance(value, dict) else value.typename


def _errors(errors):
    return [error.formatted for error in errors]


@lru_cache(maxsize=128)
def checked(text):
    """Return (document, errors) of a query text, parsed and validated once per text."""
    try:
        document = parse(text)
    except GraphQLError as exc:
        return None, [exc]
    return document, validate(SCHEMA, document)


def run(sim, body):
    """Answer one GraphQL request body; return the response body (for HTTP 200)."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return None
    variables = body.get("variables") or {}
    document, problems = checked(body["query"])
    if problems:
        return {"errors": _errors(problems)}
    operation = get_operation_ast(document, body.get("operationName"))
    if operation is None:
        return {"errors": [{"message": "An operation name is required"}]}
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    costing = Costing(SCHEMA, fragments, variables)
    mutation = operation.operation is OperationType.MUTATION
    root_type = SCHEMA.mutation_type if mutation else SCHEMA.query_type
    try:
        requested = (MUTATION_COST * len(operation.selection_set.selections) if mutation
                     else costing.cost(operation.selection_set, root_type))
    except GraphQLError as exc:
        return {"errors": _errors([exc])}
    bucket = sim.graphql_bucket
    if requested > MAX_COST:
        return {"errors": [{"message": f"Query cost is {requested}, which exceeds the single "
                                       f"query max cost limit ({MAX_COST}).",
                            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                                           "maxCost": MAX_COST}}]}
    if not bucket.take(requested):
        return {"errors": [{"message": "Throttled",
                            "extensions": {"code": "THROTTLED", "documentation": RATE_LIMITS_DOCS}}],
                "extensions": {"cost": _cost(bucket, requested, None)}}
    context = {}
    result: ExecutionResult = execute(SCHEMA, document, Root(sim, context), context,
                                      variables, body.get("operationName"),
                                      type_resolver=_resolve_type)
    actual = requested if mutation else costing.cost(operation.selection_set, root_type,
                                                     result.data or {})
    bucket.give_back(max(0, requested - actual))
    out = {"data": result.data}
    if result.errors:
        out["errors"] = _errors(result.errors)
    out["extensions"] = {"cost": _cost(bucket, requested, actual)}
    if context.get("search"):
        out["extensions"]["search"] = context["search"]
    return out


def _cost(bucket, requested, actual):
    return {"requestedQueryCost": requested, "actualQueryCost": actual,
            "throttleStatus": {"maximumAvailable": float(bucket.size),
                               "currentlyAvailable": bucket.available,
                               "restoreRate": float(bucket.leak_rate)}}


def register(app, sim, reply):
    """Add the GraphQL endpoint to the simulator's Flask app."""

    @app.post("/admin/api/<version>/graphql.json")
    def graphql_query(version):
        """Run one GraphQL query or mutation."""
        body = run(sim, request.get_json(silent=True))
        if body is None:
            return reply({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        return reply(body)
