"""The part of Shopify's GraphQL Admin API schema that the simulator serves, in SDL."""

from graphql import build_schema

from shopsync.simulator.graphql import schema_books as books
from shopsync.simulator.graphql import schema_bulk as bulk
from shopsync.simulator.webhooks import TOPICS


def topic_enum(topic):
    """Return the GraphQL enum value of a REST topic: orders/create -> ORDERS_CREATE."""
    return topic.upper().replace("/", "_")

SDL = """
scalar DateTime
scalar Decimal
scalar Money
scalar UnsignedInt64
scalar URL

interface Node { id: ID! }

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

enum CountPrecision { EXACT AT_LEAST }
type Count { count: Int! precision: CountPrecision! }

enum CurrencyCode { USD CAD EUR GBP CHF JPY BRL AUD }
type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }

type MailingAddress implements Node {
  id: ID!
  firstName: String
  lastName: String
  name: String
  company: String
  address1: String
  address2: String
  city: String
  province: String
  provinceCode: String
  country: String
  countryCodeV2: String
  zip: String
  phone: String
}

enum OrderSortKeys { ID CREATED_AT UPDATED_AT PROCESSED_AT }
enum ProductSortKeys { ID CREATED_AT UPDATED_AT TITLE }
enum CustomerSortKeys { ID CREATED_AT UPDATED_AT NAME }
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }
enum OrderDisplayFinancialStatus {
  PENDING AUTHORIZED PARTIALLY_PAID PARTIALLY_REFUNDED VOIDED PAID REFUNDED EXPIRED
}
enum OrderDisplayFulfillmentStatus {
  UNFULFILLED PARTIALLY_FULFILLED FULFILLED RESTOCKED PENDING_FULFILLMENT OPEN IN_PROGRESS
  ON_HOLD SCHEDULED REQUEST_DECLINED
}
enum ProductStatus { ACTIVE ARCHIVED DRAFT UNLISTED }
enum CustomerState { DECLINED DISABLED ENABLED INVITED }

type Order implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  email: String
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  cancelledAt: DateTime
  cancelReason: OrderCancelReason
  closedAt: DateTime
  closed: Boolean!
  test: Boolean!
  currencyCode: CurrencyCode!
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  subtotalPriceSet: MoneyBag
  totalTaxSet: MoneyBag
  totalDiscountsSet: MoneyBag
  totalPriceSet: MoneyBag!
  customer: Customer
  shippingAddress: MailingAddress
  lineItems(
      first: Int
      after: String
      last: Int
      before: String
      reverse: Boolean = false
  ): LineItemConnection!
%s}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }

type LineItem implements Node {
  id: ID!
  title: String!
  variantTitle: String
  sku: String
  quantity: Int!
  originalUnitPriceSet: MoneyBag!
  totalDiscountSet: MoneyBag!
  discountAllocations: [DiscountAllocation!]!
  product: Product
  variant: ProductVariant
}
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }

type Product implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  handle: String!
  vendor: String!
  productType: String!
  status: ProductStatus!
  tags: [String!]!
  createdAt: DateTime!
  updatedAt: DateTime!
  variants(
      first: Int
      after: String
      last: Int
      before: String
      reverse: Boolean = false
  ): ProductVariantConnection!
}
type ProductEdge { cursor: String! node: Product! }
type ProductConnection { edges: [ProductEdge!]! nodes: [Product!]! pageInfo: PageInfo! }

type ProductVariant implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  sku: String
  price: Money!
  inventoryQuantity: Int
  position: Int!
  updatedAt: DateTime!
  product: Product!
}
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection { edges: [ProductVariantEdge!]! nodes: [ProductVariant!]! pageInfo: PageInfo! }

type Customer implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  email: String
  firstName: String
  lastName: String
  phone: String
  state: CustomerState!
  numberOfOrders: UnsignedInt64!
  amountSpent: MoneyV2!
  createdAt: DateTime!
  updatedAt: DateTime!
  defaultAddress: MailingAddress
}
type CustomerEdge { cursor: String! node: Customer! }
type CustomerConnection { edges: [CustomerEdge!]! nodes: [Customer!]! pageInfo: PageInfo! }

enum WebhookSubscriptionTopic { %s }
enum WebhookSubscriptionFormat { JSON XML }
type WebhookSubscription implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  topic: WebhookSubscriptionTopic!
  format: WebhookSubscriptionFormat!
  uri: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  apiVersion: String!
}
type WebhookSubscriptionEdge { cursor: String! node: WebhookSubscription! }
type WebhookSubscriptionConnection {
  edges: [WebhookSubscriptionEdge!]! nodes: [WebhookSubscription!]! pageInfo: PageInfo!
}
input WebhookSubscriptionInput { uri: String callbackUrl: URL format: WebhookSubscriptionFormat }
type UserError { field: [String!] message: String! }
type WebhookSubscriptionCreatePayload { webhookSubscription: WebhookSubscription userErrors: [UserError!]! }
type WebhookSubscriptionUpdatePayload { webhookSubscription: WebhookSubscription userErrors: [UserError!]! }
type WebhookSubscriptionDeletePayload { deletedWebhookSubscriptionId: ID userErrors: [UserError!]! }

type AccessScope { handle: String! }
type AppInstallation implements Node { id: ID! accessScopes: [AccessScope!]! }
type Shop implements Node { id: ID! name: String! myshopifyDomain: String! }

type QueryRoot {
  shop: Shop!
  currentAppInstallation: AppInstallation!
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  order(id: ID!): Order
  orders(
      first: Int
      after: String
      last: Int
      before: String
      query: String
      sortKey: OrderSortKeys = ID
      reverse: Boolean = false
  ): OrderConnection!
  ordersCount(query: String, limit: Int = 10000): Count
  product(id: ID!): Product
  products(
      first: Int
      after: String
      last: Int
      before: String
      query: String
      sortKey: ProductSortKeys = ID
      reverse: Boolean = false
  ): ProductConnection!
  productsCount(query: String, limit: Int = 10000): Count
  customer(id: ID!): Customer
  customers(
      first: Int
      after: String
      last: Int
      before: String
      query: String
      sortKey: CustomerSortKeys = ID
      reverse: Boolean = false
  ): CustomerConnection!
  customersCount(query: String, limit: Int = 10000): Count
  webhookSubscription(id: ID!): WebhookSubscription
  webhookSubscriptions(
      first: Int
      after: String
      last: Int
      before: String
      topics: [WebhookSubscriptionTopic!]
      uri: String
  ): WebhookSubscriptionConnection!
}

type Mutation {
  webhookSubscriptionCreate(
      topic: WebhookSubscriptionTopic!
      webhookSubscription: WebhookSubscriptionInput!
  ): WebhookSubscriptionCreatePayload
  webhookSubscriptionUpdate(
      id: ID!
      webhookSubscription: WebhookSubscriptionInput!
  ): WebhookSubscriptionUpdatePayload
  webhookSubscriptionDelete(id: ID!): WebhookSubscriptionDeletePayload
}

schema { query: QueryRoot mutation: Mutation }
"""

SCHEMA = build_schema(SDL % (books.ORDER_FIELDS, " ".join(topic_enum(t) for t in TOPICS))
                      + books.SDL + bulk.SDL)
