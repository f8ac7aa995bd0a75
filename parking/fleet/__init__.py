"""Sensor fleet health: which sensor needs a visit, found from the data the ingester stores.

``rules`` is the pure core (facts in, problems out), ``gather`` reads the facts from InfluxDB,
``deadletters`` counts each device's refused messages. Thresholds and their sources: docs/fleet.md.
"""
