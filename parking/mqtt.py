"""paho-mqtt clients configured from settings: MQTT v5, credentials and TLS in one place."""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from parking.settings import CommonSettings


def make_client(settings: CommonSettings, client_id: str = "", *, manual_ack: bool = False) -> mqtt.Client:
    """A v5 client with the broker credentials and TLS options of the settings (not yet connected)."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=manual_ack,
    )
    if settings.mqtt_username:
        password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
        client.username_pw_set(settings.mqtt_username, password)
    if settings.mqtt.tls:
        context = ssl.create_default_context(
            cafile=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None
        )
        if settings.mqtt_tls_insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        client.tls_set_context(context)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client
