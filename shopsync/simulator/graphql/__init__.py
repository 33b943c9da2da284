"""The GraphQL Admin API of a simulated store: POST graphql.json, cost-based throttling."""

from shopsync.simulator.graphql.endpoint import register

__all__ = ["register"]
