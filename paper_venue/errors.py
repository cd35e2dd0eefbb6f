"""Bybit V5 return codes the venue can answer with, and the one exception that carries them.

Every refusal inside the venue is a `BybitError`; the HTTP layer turns it into Bybit's
envelope, so a handler never builds an error response by hand. Messages follow the
wording of Bybit's error-code page where it gives one.
"""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    """Return codes, named after what they mean."""

    OK = 0
    PARAMS = 10001
    TIMESTAMP = 10002
    API_KEY_INVALID = 10003
    SIGN = 10004
    PERMISSION = 10005
    RATE_LIMIT = 10006
    DUPLICATE_REQUEST = 10014
    INTERNAL = 10016
    ROUTE_NOT_FOUND = 10017
    ORDER_NOT_EXISTS = 110001
    PRICE_OUT_OF_RANGE = 110003
    WALLET_INSUFFICIENT = 110004
    AVAILABLE_INSUFFICIENT = 110007
    ORDER_FINISHED = 110008
    REDUCE_ONLY = 110017
    LEVERAGE_NOT_MODIFIED = 110043
    ORDER_LINK_ID_DUPLICATE = 110072
    MIN_NOTIONAL = 110094
    SPOT_INVALID_SYMBOL = 170121
    SPOT_PARAM_INVALID = 170130
    SPOT_INSUFFICIENT = 170131
    SPOT_PRICE_DECIMALS = 170134
    SPOT_QTY_UPPER = 170135
    SPOT_QTY_LOWER = 170136
    SPOT_QTY_DECIMALS = 170137
    SPOT_VALUE_LOWER = 170140
    SPOT_ORDER_LINK_ID_DUPLICATE = 170141
    ASSET_INSUFFICIENT = 131212
    ASSET_PARAMS = 131001


MESSAGES: dict[Code, str] = {
    Code.OK: "OK",
    Code.PARAMS: "Request parameter error.",
    Code.TIMESTAMP: "The request time exceeds the time window range.",
    Code.API_KEY_INVALID: "API key is invalid.",
    Code.SIGN: "Error sign, please check your signature generation algorithm.",
    Code.PERMISSION: "Permission denied, please check your API key permissions.",
    Code.RATE_LIMIT: "Too many visits. Exceeded the API Rate Limit.",
    Code.DUPLICATE_REQUEST: "Invalid duplicate request.",
    Code.INTERNAL: "Internal System Error.",
    Code.ROUTE_NOT_FOUND: "Route not found.",
    Code.ORDER_NOT_EXISTS: "Order does not exist.",
    Code.PRICE_OUT_OF_RANGE: "Order price is out of permissible range",
    Code.WALLET_INSUFFICIENT: "Insufficient wallet balance",
    Code.AVAILABLE_INSUFFICIENT: "Insufficient available balance",
    Code.ORDER_FINISHED: "Order has been finished or canceled",
    Code.REDUCE_ONLY: "ReduceOnly rule not satisified.",
    Code.LEVERAGE_NOT_MODIFIED: "Set leverage not modified",
    Code.ORDER_LINK_ID_DUPLICATE: "OrderLinkedID is duplicate",
    Code.MIN_NOTIONAL: "Order does not meet minimum order value",
    Code.SPOT_INVALID_SYMBOL: "Invalid symbol.",
    Code.SPOT_PARAM_INVALID: "Data sent for paramter is not valid.",
    Code.SPOT_INSUFFICIENT: "Insufficient balance.",
    Code.SPOT_PRICE_DECIMALS: "Order price decimal too long.",
    Code.SPOT_QTY_UPPER: "Order quantity exceeded upper limit.",
    Code.SPOT_QTY_LOWER: "Order quantity exceeded lower limit.",
    Code.SPOT_QTY_DECIMALS: "Order quantity has too many decimals.",
    Code.SPOT_VALUE_LOWER: "Order value exceeded lower limit.",
    Code.SPOT_ORDER_LINK_ID_DUPLICATE: "Duplicate clientOrderId",
    Code.ASSET_INSUFFICIENT: "Insufficient balance in the account to transfer.",
    Code.ASSET_PARAMS: "Request parameter error.",
}


class BybitError(Exception):
    """A refusal the venue answers with Bybit's `retCode` and `retMsg`.

    Raising one guarantees nothing was changed: every check runs before any mutation.
    """

    def __init__(self, code: Code, detail: str | None = None) -> None:
        self.code = code
        self.message = detail if detail is not None else MESSAGES[code]
        super().__init__(f"{int(code)}: {self.message}")


def params_error(detail: str) -> BybitError:
    """A 10001 with Bybit's usual `params error: ...` wording."""
    return BybitError(Code.PARAMS, f"params error: {detail}")
