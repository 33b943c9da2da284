"""A bulk query as Shopify runs it: checked, paged through its root connection, flattened to JSONL.

Shopify's rules: at least one connection, at most five, nested at most two levels deep, each
read through `edges { node }` (never `nodes`), and none inside a list field (such as an
order's `refunds` or `fulfillments`). The root connection is read a page at a time; nested
connections are read whole. Every object of a connection becomes one line; a nested one
names the object holding it in `__parentId` (an order for its line items) and follows it.
"""

from dataclasses import dataclass

from graphql import (
    ArgumentNode,
    FieldNode,
    FragmentSpreadNode,
    IntValueNode,
    NamedTypeNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    parse,
    print_ast,
    validate,
)
from graphql.error import GraphQLError

from shopsync.simulator.graphql.bulk_execute import Query
from shopsync.simulator.graphql.paging import MAX_PAGE
from shopsync.simulator.graphql.schema import SCHEMA

MAX_CONNECTIONS, MAX_DEPTH = 5, 2
PAGING = {"first", "last", "after", "before"}
PAGE_INFO = "bulkPageInfo_"  # alias of the root connection's pageInfo, added to page through it


IN_LIST = "Queries that contain a connection field within a list field are not currently supported."


class InvalidBulkQuery(ValueError):
    """A query Shopify refuses to run in bulk (userError code INVALID)."""


@dataclass(frozen=True)
class Shape:
    """A field holding connections: whether it is one itself, and {response key: Shape} of the
    fields below it that hold connections."""

    connection: bool
    inner: dict


@dataclass(frozen=True)
class Plan:
    """A checked bulk query: the paged document, its root connection's key, the {key: Shape}
    of the root connection's objects, and the document compiled to run page after page."""

    document: object
    root: str
    shapes: dict
    query: Query


def _name(value):
    return NameNode(value=value)


def _argument(name, value):
    return ArgumentNode(name=_name(name), value=value)


def _is_connection(field_type):
    return get_named_type(field_type).name.endswith("Connection")


def _through_nodes(name):
    return InvalidBulkQuery(
        f"All connection fields in a bulk query must select their contents using 'edges' > "
        f"'node', e.g: '{name} {{ edges {{ node {{'. Selecting via 'nodes' is not supported. "
        f"Invalid connection fields: '{name}'.")


class _Rewriter:
    """Rewrites selections so nested connections are read whole; records their shape."""

    def __init__(self):
        self.connections = 0

    def selections(self, selection_set, parent, depth, owner, in_list=False):
        """Return (new selection set, {key: Shape}) of a selection set on type `parent`, the
        type of the field `owner`; `in_list`: whether a list field holds it."""
        out, shapes = [], {}
        for selection in selection_set.selections:
            if isinstance(selection, FragmentSpreadNode):
                raise InvalidBulkQuery("Fragment spreads are not supported in bulk queries.")
            if not isinstance(selection, FieldNode):  # an inline fragment
                condition = selection.type_condition
                inner = SCHEMA.get_type(condition.name.value) if condition else parent
                sub, found = self.selections(selection.selection_set, inner, depth, owner, in_list)
                out.append(selection.__class__(type_condition=condition, directives=(),
                                               selection_set=sub))
                shapes.update(found)
                continue
            name = selection.name.value
            if selection.selection_set is None or name.startswith("__"):
                out.append(selection)
                continue
            if name == "nodes" and _is_connection(parent):
                raise _through_nodes(owner)
            field_type = parent.fields[name].type
            connection = _is_connection(field_type)
            arguments = selection.arguments
            if connection:
                if in_list:
                    raise InvalidBulkQuery(IN_LIST)
                self.connections += 1
                if depth >= MAX_DEPTH:
                    raise InvalidBulkQuery(f"Bulk queries cannot contain connections with a "
                                           f"nesting depth greater than {MAX_DEPTH}.")
                arguments = (*(a for a in arguments if a.name.value not in PAGING),
                             _argument("first", IntValueNode(value=str(MAX_PAGE))))
            # No connection may come inside a list field (a connection's own `edges` aside).
            listed = (in_list or is_list_type(get_nullable_type(field_type))) \
                and not connection and not _is_connection(parent)
            sub, found = self.selections(selection.selection_set, get_named_type(field_type),
                                         depth + connection, name, listed)
            out.append(FieldNode(alias=selection.alias, name=selection.name, arguments=arguments,
                                 directives=selection.directives, selection_set=sub))
            if connection or found:
                shapes[(selection.alias or selection.name).value] = Shape(connection, found)
        return SelectionSetNode(selections=tuple(out)), shapes


def plan(text):
    """Check a bulk query and return its Plan, or raise InvalidBulkQuery with Shopify's reason."""
    try:
        document = parse(text)
    except GraphQLError as exc:
        raise InvalidBulkQuery(f"Invalid bulk query: {exc.message}") from None
    problems = validate(SCHEMA, document)
    if problems:
        raise InvalidBulkQuery(f"Invalid bulk query: {problems[0].message}")
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        raise InvalidBulkQuery("Invalid bulk query: give exactly one query operation.")
    [operation] = operations
    fields = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
    root_type = SCHEMA.query_type
    if len(fields) != 1 or fields[0].selection_set is None \
            or not _is_connection(root_type.fields[fields[0].name.value].type):
        raise InvalidBulkQuery("Bulk queries must contain at least one connection, "
                               "and one field at the root: a connection.")
    [root] = fields
    rewriter = _Rewriter()
    inner, shapes = rewriter.selections(root.selection_set, get_named_type(
        root_type.fields[root.name.value].type), 1, root.name.value)
    if rewriter.connections + 1 > MAX_CONNECTIONS:
        raise InvalidBulkQuery(f"Bulk queries cannot contain more than {MAX_CONNECTIONS} "
                               f"connections.")
    page_info = parse(f"{{ {PAGE_INFO}: pageInfo {{ hasNextPage endCursor }} }}")
    arguments = (*(a for a in root.arguments if a.name.value not in PAGING),
                 _argument("first", IntValueNode(value=str(MAX_PAGE))),
                 _argument("after", VariableNode(name=_name("bulkAfter"))))
    paged_root = FieldNode(alias=root.alias, name=root.name, arguments=arguments, directives=(),
                           selection_set=SelectionSetNode(selections=(
                               *inner.selections,
                               *page_info.definitions[0].selection_set.selections)))
    variable = VariableDefinitionNode(variable=VariableNode(name=_name("bulkAfter")),
                                      type=NamedTypeNode(name=_name("String")), directives=())
    paged = OperationDefinitionNode(operation=OperationType.QUERY, name=None, directives=(),
                                    variable_definitions=(variable,),
                                    selection_set=SelectionSetNode(selections=(paged_root,)))
    document = parse(print_ast(paged))  # a plain document again, checked once more
    problems = validate(SCHEMA, document)
    if problems:
        raise InvalidBulkQuery(f"Invalid bulk query: {problems[0].message}")
    return Plan(document, (root.alias or root.name).value, node_shape(shapes),
                Query(document.definitions[0]))


def items(connection):
    """Return the objects of a connection result (read through edges)."""
    if connection is None:
        return []
    return [edge["node"] for edge in connection.get("edges") or []]


def node_shape(shapes):
    """Return the {key: Shape} of a connection's objects (read through edges)."""
    edges = shapes.get("edges")
    return edges.inner["node"].inner if edges and "node" in edges.inner else {}


def lines(node, shapes, parent_id=None):
    """Yield the JSONL objects of one object of a connection: itself, then what it holds."""
    line, children = dict(node), []
    if parent_id is not None:
        line["__parentId"] = parent_id
    _detach(line, shapes, children, node.get("id"))
    yield line
    for child, child_shapes, owner in children:
        yield from lines(child, child_shapes, owner)


def _detach(value, shapes, children, owner):
    """Take the connections out of `value` (in place) into `children` as (object, shape, owner)."""
    for key, shape in shapes.items():
        inner = value.get(key)
        if inner is None:
            continue
        if shape.connection:
            del value[key]
            children.extend((item, node_shape(shape.inner), owner) for item in items(inner))
            continue
        _detach(inner, shape.inner, children, inner.get("id", owner))  # an object, never a list
