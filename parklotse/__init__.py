"""The ``parklotse`` command and the local stack it runs."""
