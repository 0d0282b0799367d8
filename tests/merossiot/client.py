"""A MerossIot (meross-iot 0.4.10.4) script, unmodified library, against merossd.

Run by tests/it/merossiot.rs: argv = cloud URL, e-mail, password, TLS host, TLS port,
uuid of a simulated metering plug. Prints one JSON object of what it saw; exits 1 on a
failure it can name.
"""
import asyncio
import json
import ssl
import sys

from meross_iot.http_api import MerossHttpClient
from meross_iot.manager import MerossManager
from meross_iot.model.http.exception import BadLoginException
from meross_iot.model.enums import Namespace

URL, EMAIL, PASSWORD, HOST, PORT, UUID = sys.argv[1:7]


async def main():
    seen = {}
    # A wrong password is refused the way MerossIot knows.
    try:
        await MerossHttpClient.async_from_user_password(
            api_base_url=URL, email=EMAIL, password=PASSWORD + "-wrong")
        seen["wrong_password"] = "accepted"
    except BadLoginException:
        seen["wrong_password"] = "BadLoginException"

    http = await MerossHttpClient.async_from_user_password(
        api_base_url=URL, email=EMAIL, password=PASSWORD)
    # merossd's certificate is self-signed, as a user's would be.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    manager = MerossManager(http_client=http,
                            mqtt_override_server=(HOST, int(PORT)),
                            mqtt_ssl_context=context)
    pushes = []

    async def on_push(push, devices, manager):
        pushes.append(push.namespace.value if hasattr(push.namespace, "value") else str(push.namespace))

    manager.register_push_notification_handler_coroutine(on_push)
    await asyncio.wait_for(manager.async_init(), 30)
    await asyncio.wait_for(manager.async_device_discovery(), 30)
    devices = manager.find_devices(device_uuids=[UUID])
    if not devices:
        print(json.dumps({"error": "the plug was not discovered", **seen}))
        sys.exit(1)
    plug = devices[0]
    await asyncio.wait_for(plug.async_update(), 15)
    seen["type"] = plug.type
    seen["online"] = str(plug.online_status)
    seen["was_on"] = plug.is_on(channel=0)
    await asyncio.wait_for(plug.async_turn_on(channel=0), 15)
    await asyncio.sleep(1.0)
    seen["on_after_turn_on"] = plug.is_on(channel=0)
    metrics = await asyncio.wait_for(plug.async_get_instant_metrics(channel=0), 15)
    seen["power_w"] = metrics.power
    seen["voltage_v"] = metrics.voltage
    seen["current_a"] = metrics.current
    await asyncio.wait_for(plug.async_turn_off(channel=0), 15)
    await asyncio.sleep(1.0)
    seen["on_after_turn_off"] = plug.is_on(channel=0)
    seen["pushes"] = pushes
    manager.close()
    await http.async_logout()
    seen["logged_out"] = True
    print(json.dumps(seen))


asyncio.run(main())
