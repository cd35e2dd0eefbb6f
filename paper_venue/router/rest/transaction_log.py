"""The unified account's transaction log (`ledger.py` writes it), newest first, one day by
default and at most seven days a query, cursor-paged."""

from __future__ import annotations

from paper_venue.params import Params
from paper_venue.router.gateway import Ctx, Endpoint
from paper_venue.router.rest.common import DAY_MS, KNOWN_CATEGORIES, page, time_window

#: Bybit's `type(uta-translog)` enum, as documented.
TYPES = (
    "TRANSFER_IN",
    "TRANSFER_OUT",
    "TRADE",
    "SETTLEMENT",
    "DELIVERY",
    "LIQUIDATION",
    "ADL",
    "AIRDROP",
    "BONUS",
    "BONUS_RECOLLECT",
    "FEE_REFUND",
    "INTEREST",
    "CURRENCY_BUY",
    "CURRENCY_SELL",
    "BORROWED_AMOUNT_INS_LOAN",
    "PRINCIPLE_REPAYMENT_INS_LOAN",
    "INTEREST_REPAYMENT_INS_LOAN",
    "AUTO_SOLD_COLLATERAL_INS_LOAN",
    "AUTO_BUY_LIABILITY_INS_LOAN",
    "AUTO_PRINCIPLE_REPAYMENT_INS_LOAN",
    "AUTO_INTEREST_REPAYMENT_INS_LOAN",
    "TRANSFER_IN_INS_LOAN",
    "TRANSFER_OUT_INS_LOAN",
    "SPOT_REPAYMENT_SELL",
    "SPOT_REPAYMENT_BUY",
    "TOKENS_SUBSCRIPTION",
    "TOKENS_REDEMPTION",
    "AUTO_DEDUCTION",
    "FLEXIBLE_STAKING_SUBSCRIPTION",
    "FLEXIBLE_STAKING_REDEMPTION",
    "FIXED_STAKING_SUBSCRIPTION",
    "FLEXIBLE_STAKING_REFUND",
    "FIXED_STAKING_REFUND",
    "PREMARKET_TRANSFER_OUT",
    "PREMARKET_DELIVERY_SELL_NEW_COIN",
    "PREMARKET_DELIVERY_BUY_NEW_COIN",
    "PREMARKET_DELIVERY_PLEDGE_PAY_SELLER",
    "PREMARKET_DELIVERY_PLEDGE_BACK",
    "PREMARKET_ROLLBACK_PLEDGE_BACK",
    "PREMARKET_ROLLBACK_PLEDGE_PENALTY_TO_BUYER",
    "CUSTODY_NETWORK_FEE",
    "CUSTODY_SETTLE_FEE",
    "CUSTODY_LOCK",
    "CUSTODY_UNLOCK",
    "CUSTODY_UNLOCK_REFUND",
    "LOANS_BORROW_FUNDS",
    "LOANS_PLEDGE_ASSET",
    "BONUS_TRANSFER_IN",
    "BONUS_TRANSFER_OUT",
    "PEF_TRANSFER_IN",
    "PEF_TRANSFER_OUT",
    "PEF_PROFIT_SHARE",
    "ONCHAINEARN_SUBSCRIPTION",
    "ONCHAINEARN_REDEMPTION",
    "ONCHAINEARN_REFUND",
    "STRUCTURE_PRODUCT_SUBSCRIPTION",
    "STRUCTURE_PRODUCT_REFUND",
    "CLASSIC_WEALTH_MANAGEMENT_SUBSCRIPTION",
    "PREMIMUM_WEALTH_MANAGEMENT_SUBSCRIPTION",
    "PREMIMUM_WEALTH_MANAGEMENT_REFUND",
    "LIQUIDITY_MINING_SUBSCRIPTION",
    "LIQUIDITY_MINING_REFUND",
    "PWM_SUBSCRIPTION",
    "PWM_REFUND",
    "DEFI_INVESTMENT_SUBSCRIPTION",
    "DEFI_INVESTMENT_REFUND",
    "DEFI_INVESTMENT_REDEMPTION",
    "INSTITUTION_LOAN_IN",
    "INSTITUTION_PAYBACK_PRINCIPAL_OUT",
    "INSTITUTION_PAYBACK_INTEREST_OUT",
    "INSTITUTION_EXCHANGE_SELL",
    "INSTITUTION_EXCHANGE_BUY",
    "INSTITUTION_LIQ_PRINCIPAL_OUT",
    "INSTITUTION_LIQ_INTEREST_OUT",
    "INSTITUTION_LOAN_TRANSFER_IN",
    "INSTITUTION_LOAN_TRANSFER_OUT",
    "INSTITUTION_LOAN_WITHOUT_WITHDRAW",
    "INSTITUTION_LOAN_RESERVE_IN",
    "INSTITUTION_LOAN_RESERVE_OUT",
    "SPREAD_FEE_OUT",
    "PLATFORM_TOKEN_MNT_LIQRECALLEDMMNT",
    "PLATFORM_TOKEN_MNT_LIQRETURNEDMNT",
    "BORROW",
    "REPAY",
    "CONVERT",
    "BROKER_ABACCOUNT_FEE",
    "EARNING_REDEMPTION_SELL",
    "EARNING_REDEMPTION_BUY",
    "DBS_CASH_OUT",
    "DBS_CASH_IN",
    "DBS_CASH_OUT_TR",
    "DBS_CASH_IN_TR",
    "CUSTODY_CASH_RECOVER_TR",
    "ALPHA_SMALL_TOKEN_REFUND",
    "TWAP_BUDGET_AIRDROP",
    "TWAP_BUDGET_RECALL",
    "FLOATING_TO_FIXED_BORROW",
    "FLOATING_TO_FIXED_REPAY",
    "IDN_CONVERT_IN",
    "IDN_CONVERT_OUT",
)


def transaction_log(ctx: Ctx, p: Params) -> object:
    p.string("accountType", choices=("UNIFIED",))
    category = p.string("category", choices=KNOWN_CATEGORIES)
    currency = p.string("currency")
    base = p.string("baseCoin")
    kind = p.string("type", choices=TYPES)
    sub_type = p.string("transSubType", choices=("movePosition",))
    start, end = time_window(p, ctx.venue.clock.now_ms(), DAY_MS, 7 * DAY_MS)
    rows = [
        e
        for e in ctx.venue.ledger.get(ctx.uid, [])
        if (category is None or e.category == category)
        and (currency is None or e.currency == currency)
        and (base is None or e.base == base)
        and (kind is None or e.type == kind)
        and sub_type is None  # the venue never moves positions
        and start <= e.time_ms <= end
    ]
    items, cursor = page([e.to_wire() for e in rows], p, 20, 50)
    p.done()
    return {"nextPageCursor": cursor, "list": items}


ENDPOINTS = [Endpoint("GET", "/v5/account/transaction-log", transaction_log, "read")]
