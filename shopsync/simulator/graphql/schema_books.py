"""The books' part of the simulator's schema, under Shopify's GraphQL Admin names.

`refunds`, `fulfillments`, `transactions`, `taxLines` and `trackingInfo` are lists, the rest
connections.
"""

SDL = """
type PricingPercentageValue { percentage: Float! }
union PricingValue = MoneyV2 | PricingPercentageValue
enum DiscountApplicationAllocationMethod { ACROSS EACH ONE }
enum DiscountApplicationTargetSelection { ALL ENTITLED EXPLICIT }
enum DiscountApplicationTargetType { LINE_ITEM SHIPPING_LINE EXPLICIT }
interface DiscountApplication {
  allocationMethod: DiscountApplicationAllocationMethod!
  index: Int!
  targetSelection: DiscountApplicationTargetSelection!
  targetType: DiscountApplicationTargetType!
  value: PricingValue!
}
type DiscountCodeApplication implements DiscountApplication {
  allocationMethod: DiscountApplicationAllocationMethod!
  index: Int!
  targetSelection: DiscountApplicationTargetSelection!
  targetType: DiscountApplicationTargetType!
  value: PricingValue!
  code: String!
}
type ManualDiscountApplication implements DiscountApplication {
  allocationMethod: DiscountApplicationAllocationMethod!
  index: Int!
  targetSelection: DiscountApplicationTargetSelection!
  targetType: DiscountApplicationTargetType!
  value: PricingValue!
  title: String!
  description: String
}
type AutomaticDiscountApplication implements DiscountApplication {
  allocationMethod: DiscountApplicationAllocationMethod!
  index: Int!
  targetSelection: DiscountApplicationTargetSelection!
  targetType: DiscountApplicationTargetType!
  value: PricingValue!
  title: String!
}
type ScriptDiscountApplication implements DiscountApplication {
  allocationMethod: DiscountApplicationAllocationMethod!
  index: Int!
  targetSelection: DiscountApplicationTargetSelection!
  targetType: DiscountApplicationTargetType!
  value: PricingValue!
  title: String!
}
type DiscountApplicationEdge { cursor: String! node: DiscountApplication! }
type DiscountApplicationConnection {
  edges: [DiscountApplicationEdge!]! nodes: [DiscountApplication!]! pageInfo: PageInfo!
}
type DiscountAllocation { allocatedAmountSet: MoneyBag! discountApplication: DiscountApplication! }

type TaxLine { title: String! rate: Float ratePercentage: Float priceSet: MoneyBag! }
type ShippingLine {
  id: ID
  title: String!
  code: String
  source: String
  originalPriceSet: MoneyBag!
  discountedPriceSet: MoneyBag!
}
type ShippingLineEdge { cursor: String! node: ShippingLine! }
type ShippingLineConnection { edges: [ShippingLineEdge!]! nodes: [ShippingLine!]! pageInfo: PageInfo! }

type Location implements Node { id: ID! legacyResourceId: UnsignedInt64! }

enum OrderTransactionKind {
  AUTHORIZATION CAPTURE CHANGE EMV_AUTHORIZATION REFUND SALE SUGGESTED_REFUND VOID
}
enum OrderTransactionStatus { AWAITING_RESPONSE ERROR FAILURE PENDING SUCCESS UNKNOWN }
enum OrderTransactionErrorCode {
  AMAZON_PAYMENTS_INVALID_PAYMENT_METHOD CALL_ISSUER CARD_DECLINED CONFIG_ERROR EXPIRED_CARD
  GENERIC_ERROR INCORRECT_ADDRESS INCORRECT_CVC INCORRECT_NUMBER INCORRECT_PIN INCORRECT_ZIP
  INVALID_AMOUNT INVALID_COUNTRY INVALID_CVC INVALID_EXPIRY_DATE INVALID_NUMBER
  PAYMENT_METHOD_UNAVAILABLE PICK_UP_CARD PROCESSING_ERROR TEST_MODE_LIVE_CARD
  UNSUPPORTED_FEATURE
}
type OrderTransaction implements Node {
  id: ID!
  kind: OrderTransactionKind!
  status: OrderTransactionStatus!
  gateway: String
  amountSet: MoneyBag!
  errorCode: OrderTransactionErrorCode
  createdAt: DateTime!
  processedAt: DateTime
  test: Boolean!
  parentTransaction: OrderTransaction
}
type OrderTransactionEdge { cursor: String! node: OrderTransaction! }
type OrderTransactionConnection {
  edges: [OrderTransactionEdge!]! nodes: [OrderTransaction!]! pageInfo: PageInfo!
}

enum RefundLineItemRestockType { CANCEL LEGACY_RESTOCK NO_RESTOCK RETURN }
type RefundLineItem {
  id: ID
  lineItem: LineItem!
  quantity: Int!
  restockType: RefundLineItemRestockType!
  restocked: Boolean!
  location: Location
  subtotalSet: MoneyBag!
  totalTaxSet: MoneyBag!
}
type RefundLineItemEdge { cursor: String! node: RefundLineItem! }
type RefundLineItemConnection { edges: [RefundLineItemEdge!]! nodes: [RefundLineItem!]! pageInfo: PageInfo! }
type RefundShippingLine {
  id: ID
  shippingLine: ShippingLine!
  subtotalAmountSet: MoneyBag!
  taxAmountSet: MoneyBag!
}
type RefundShippingLineEdge { cursor: String! node: RefundShippingLine! }
type RefundShippingLineConnection {
  edges: [RefundShippingLineEdge!]! nodes: [RefundShippingLine!]! pageInfo: PageInfo!
}
type Refund implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  createdAt: DateTime
  updatedAt: DateTime!
  note: String
  totalRefundedSet: MoneyBag!
  refundLineItemsPAGED: RefundLineItemConnection!
  refundShippingLinesPAGED: RefundShippingLineConnection!
  transactionsPAGED: OrderTransactionConnection!
}

enum FulfillmentStatus { CANCELLED ERROR FAILURE OPEN PENDING SUCCESS }
enum FulfillmentDisplayStatus {
  ATTEMPTED_DELIVERY CANCELED CONFIRMED DELIVERED FAILURE FULFILLED IN_TRANSIT LABEL_PRINTED
  LABEL_PURCHASED LABEL_VOIDED MARKED_AS_FULFILLED NOT_DELIVERED OUT_FOR_DELIVERY PICKED_UP
  READY_FOR_PICKUP SUBMITTED
}
type FulfillmentService { handle: String! serviceName: String! }
type FulfillmentTrackingInfo { company: String number: String url: URL }
type FulfillmentLineItem { id: ID! lineItem: LineItem! quantity: Int }
type FulfillmentLineItemEdge { cursor: String! node: FulfillmentLineItem! }
type FulfillmentLineItemConnection {
  edges: [FulfillmentLineItemEdge!]! nodes: [FulfillmentLineItem!]! pageInfo: PageInfo!
}
type Fulfillment implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  status: FulfillmentStatus!
  displayStatus: FulfillmentDisplayStatus
  service: FulfillmentService
  location: Location
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]!
  createdAt: DateTime!
  updatedAt: DateTime!
  fulfillmentLineItemsPAGED: FulfillmentLineItemConnection!
}
"""
# Order fields of the books (added to `type Order` in the schema).
ORDER_FIELDS = """
  presentmentCurrencyCode: CurrencyCode!
  taxesIncluded: Boolean!
  totalShippingPriceSet: MoneyBag!
  currentSubtotalPriceSet: MoneyBag!
  currentTotalTaxSet: MoneyBag!
  currentTotalDiscountsSet: MoneyBag
  currentTotalPriceSet: MoneyBag!
  totalRefundedSet: MoneyBag!
  totalOutstandingSet: MoneyBag!
  taxLines: [TaxLine!]!
  shippingLinesPAGED: ShippingLineConnection!
  discountCodes: [String!]!
  discountApplicationsPAGED: DiscountApplicationConnection!
  refunds(first: Int): [Refund!]!
  fulfillments(first: Int): [Fulfillment!]!
  transactions(first: Int): [OrderTransaction!]!
"""
# A connection's arguments.
PAGED = "(first: Int, after: String, last: Int, before: String, reverse: Boolean = false)"
SDL, ORDER_FIELDS = SDL.replace("PAGED", PAGED), ORDER_FIELDS.replace("PAGED", PAGED)
