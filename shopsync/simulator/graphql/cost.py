"""Shopify's calculated query cost: scalars and enums 0, objects 1, connections 2 + items.

The requested cost is computed from the query before it runs (connections sized by
`first`/`last`, `nodes(ids:)` by its ids); the actual cost the same way from what came back.
Each mutation field costs 10. A query requesting more than MAX_COST is refused.
"""

from collections import defaultdict

from graphql import FieldNode, FragmentSpreadNode, get_named_type, is_leaf_type
from graphql.execution.values import get_argument_values
from graphql.type import GraphQLList, GraphQLNonNull

MAX_COST = 1000
MUTATION_COST = 10
CONNECTION_BASE = 2
MISSING = object()  # requested cost: no result to look at


def _is_list(field_type):
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    return isinstance(inner, GraphQLList)


class Costing:
    """Costs of one operation's selections, fragments and variables resolved."""

    def __init__(self, schema, fragments, variables):
        self.schema, self.fragments, self.variables = schema, fragments, variables or {}

    def grouped(self, selection_set, parent, groups=None):
        """Return {type: [FieldNode]} of a selection set, fragments on other types apart."""
        groups = defaultdict(list) if groups is None else groups
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                groups[parent].append(selection)
                continue
            if isinstance(selection, FragmentSpreadNode):
                selection = self.fragments[selection.name.value]
            condition = selection.type_condition
            inner = self.schema.get_type(condition.name.value) if condition else parent
            self.grouped(selection.selection_set, inner, groups)
        return groups

    def cost(self, selection_set, parent, data=MISSING):
        """Return the cost of what is selected on one object (`data`: its result, once run).

        Fragments on different concrete types cost as much as the dearest of them.
        """
        groups = self.grouped(selection_set, parent)
        own = self._fields(groups.pop(parent, []), parent, data)
        return own + max((self._fields(nodes, owner, data) for owner, nodes in groups.items()),
                         default=0)

    def _fields(self, nodes, owner, data):
        total = 0
        for node in nodes:
            definition = getattr(owner, "fields", {}).get(node.name.value)
            if definition is None:  # __typename, or a field of another type
                continue
            named = get_named_type(definition.type)
            if is_leaf_type(named):
                continue
            if data is MISSING:
                value = MISSING
            else:
                value = data.get((node.alias or node.name).value) if data else None
                if value is None:
                    continue
            if named.name.endswith("Connection"):
                total += CONNECTION_BASE + self._connection(node, named, definition, value)
            elif _is_list(definition.type):
                items = value if value is not MISSING else [MISSING] * self._count(
                    node, definition, "ids")
                total += sum(1 + self.cost(node.selection_set, named, item)
                             for item in items if item is not None)
            else:
                total += 1 + self.cost(node.selection_set, named, value)
        return total

    def _count(self, node, definition, *names):
        args = get_argument_values(definition, node, self.variables)
        for name in names:
            value = args.get(name)
            if value:
                return len(value) if isinstance(value, list) else value
        return 0

    def _connection(self, node, connection, definition, value):
        """Return the cost of a connection's items: each is an object with its fields."""
        item_type = get_named_type(connection.fields["nodes"].type)
        total = 0
        for child in self.grouped(node.selection_set, connection)[connection]:
            if child.name.value == "nodes":
                selection = child.selection_set
            elif child.name.value == "edges":
                edge = get_named_type(connection.fields["edges"].type)
                inner = [n for n in self.grouped(child.selection_set, edge)[edge]
                         if n.name.value == "node"]
                if not inner:
                    continue
                selection = inner[0].selection_set
            else:
                continue
            if value is MISSING:
                count = self._count(node, definition, "first", "last")
                items = [MISSING] * count
            else:
                found = value.get((child.alias or child.name).value) or []
                items = found if child.name.value == "nodes" else [
                    edge.get((inner[0].alias or inner[0].name).value) for edge in found]
            total = max(total, sum(1 + self.cost(selection, item_type, item) for item in items))
        return total
