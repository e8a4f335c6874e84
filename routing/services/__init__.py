"""Every write of the routing domain lives in this package, one module per concern."""
