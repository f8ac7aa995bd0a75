"""paho-mqtt clients configured from settings: MQTT v5, credentials and TLS in one place."""

from __future__ import annotations

import ssl
from typing import TypeVar, overload

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from parking.settings import CommonSettings

C = TypeVar("C", bound=mqtt.Client)


@overload
def make_client(
    settings: CommonSettings, client_id: str = "", *, manual_ack: bool = False
) -> mqtt.Client: ...


@overload
def make_client(
    settings: CommonSettings, client_id: str = "", *, manual_ack: bool = False, client_class: type[C]
) -> C: ...


def make_client(
    settings: CommonSettings,
    client_id: str = "",
    *,
    manual_ack: bool = False,
    client_class: type[mqtt.Client] = mqtt.Client,
) -> mqtt.Client:
    """A v5 client with the broker credentials and TLS options of the settings (not yet connected).

    ``client_class``: a subclass of paho's client to build instead (the ingester's buffered reader).
    """
    client = client_class(
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
