"""Run a checked bulk query over the store's objects quickly: what graphql-core's execute does
for valid documents, without its per-field checks, from a plan compiled once per query.

The plan flattens each selection set, for each concrete type, into (response key, field,
arguments, how to complete the value) entries; arguments without variables are coerced once.
The result equals graphql-core's for the simulator's schema (tests/test_bulk_simulator.py
compares them); queries are validated by graphql-core before they get here.
"""

from graphql import (
    FieldNode,
    ListValueNode,
    ObjectValueNode,
    VariableNode,
    get_nullable_type,
    is_abstract_type,
    is_list_type,
)
from graphql.execution.values import get_argument_values

from shopsync.simulator.graphql.schema import SCHEMA


def _typename(value):
    return value["typename"] if isinstance(value, dict) else value.typename


def _applies(condition, concrete):
    """Tell whether an inline fragment's type condition covers the concrete type."""
    if condition is None:
        return True
    wanted = SCHEMA.get_type(condition.name.value)
    return wanted is concrete or (is_abstract_type(wanted) and SCHEMA.is_sub_type(wanted, concrete))


def _has_variables(value):
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(map(_has_variables, value.values))
    if isinstance(value, ObjectValueNode):
        return any(_has_variables(field.value) for field in value.fields)
    return False


class Query:
    """A query operation compiled for repeated runs (one per page of a bulk query)."""

    def __init__(self, operation):
        self.fields = _fields(operation.selection_set, SCHEMA.query_type)

    def run(self, root, variables):
        """Return the `data` of the operation run from `root` (the resolvers' Root)."""
        return _run(root, self.fields, variables)


def execute_query(root, operation, variables):
    """Return the `data` of a query operation run from `root` (the resolvers' Root)."""
    return Query(operation).run(root, variables)


def _fields(selection_set, object_type, entries=None):
    """Return the entries of a selection set on a concrete type: (key, name, typename,
    arguments, (field, selection) when its arguments need the variables, inner), where
    inner is None for a leaf, the entries of an object's fields, or complete(value, variables)
    for a list or an abstract type."""
    entries = [] if entries is None else entries
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode):  # an inline fragment (the plan has no spreads)
            if _applies(selection.type_condition, object_type):
                _fields(selection.selection_set, object_type, entries)
            continue
        name = selection.name.value
        key = (selection.alias or selection.name).value
        if name == "__typename":
            entries.append((key, name, object_type.name, None, None, None))
            continue
        field = object_type.fields[name]
        dynamic = any(_has_variables(argument.value) for argument in selection.arguments)
        arguments = None if dynamic else get_argument_values(field, selection, {})
        inner = None if selection.selection_set is None else _inner(
            selection.selection_set, get_nullable_type(field.type))
        entries.append((key, name, None, arguments, (field, selection) if dynamic else None,
                        inner))
    return entries


def _inner(selection_set, field_type):
    """Return how to complete a value of `field_type` with a selection set (see _fields)."""
    if is_list_type(field_type):
        item = _inner(selection_set, get_nullable_type(field_type.of_type))
        if isinstance(item, list):
            return lambda values, variables: [None if value is None else _run(value, item, variables)
                                              for value in values]
        return lambda values, variables: [None if value is None else item(value, variables)
                                          for value in values]
    if not is_abstract_type(field_type):
        return _fields(selection_set, field_type)
    by_type = {}

    def complete(value, variables):
        name = _typename(value)
        if name not in by_type:
            by_type[name] = _fields(selection_set, SCHEMA.get_type(name))
        return _run(value, by_type[name], variables)

    return complete


def _run(value, entries, variables):
    out = {}
    mapping = isinstance(value, dict)
    for key, name, typename, arguments, dynamic, inner in entries:
        if typename is not None:
            out[key] = typename
            continue
        raw = value.get(name) if mapping else getattr(value, name, None)
        if callable(raw):
            raw = raw(None, **(arguments if dynamic is None
                               else get_argument_values(*dynamic, variables)))
        if raw is None or inner is None:
            out[key] = raw
        elif inner.__class__ is list:
            out[key] = _run(raw, inner, variables)
        else:
            out[key] = inner(raw, variables)
    return out
