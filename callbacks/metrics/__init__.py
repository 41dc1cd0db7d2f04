"""``GET /metrics``: the back office in the Prometheus text format (see ``views``)."""
