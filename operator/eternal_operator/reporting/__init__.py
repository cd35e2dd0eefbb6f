"""The daily report: its figures (`daily`), the operator's 00:00 UTC run (`schedule`), where it
is kept (`store`) and where it is sent (`notify`). The kubectl plugin imports `daily` too: one
rule in one place."""
