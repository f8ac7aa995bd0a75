"""MQTT → InfluxDB ingester: decode, validate, store, acknowledge."""
