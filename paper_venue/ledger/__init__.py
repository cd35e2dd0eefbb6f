"""The ledger: accounts, balances, positions, margin and the transaction journal; it books the
fills the matching engines report."""
