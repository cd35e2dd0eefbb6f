"""Controllers: kopf handlers (thin) over domain functions that render and reconcile."""
