"""The Engine controller: render, apply and observe what each Engine needs."""
