"""MerossIot (meross-iot 0.4.10.4, unmodified) drives a light, a garage door and a
thermostat through merossd, with the library's own classes.

Run by tests/it/merossiot.rs: argv = cloud URL, e-mail, password, TLS host, TLS port,
then the uuids of a simulated MSL450 light, MSG100 garage door and MTS200 thermostat.
Prints one JSON object of what it saw; exits 1 on a failure it can name.
"""
import asyncio
import json
import ssl
import sys

from meross_iot.http_api import MerossHttpClient
from meross_iot.manager import MerossManager

URL, EMAIL, PASSWORD, HOST, PORT, LIGHT, DOOR, THERMOSTAT = sys.argv[1:9]


async def found(manager, uuid):
    devices = manager.find_devices(device_uuids=[uuid])
    if not devices:
        print(json.dumps({"error": f"{uuid} was not discovered"}))
        sys.exit(1)
    device = devices[0]
    await asyncio.wait_for(device.async_update(), 15)
    return device


async def main():
    seen = {}
    http = await MerossHttpClient.async_from_user_password(
        api_base_url=URL, email=EMAIL, password=PASSWORD)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    manager = MerossManager(http_client=http,
                            mqtt_override_server=(HOST, int(PORT)),
                            mqtt_ssl_context=context)
    await asyncio.wait_for(manager.async_init(), 30)
    await asyncio.wait_for(manager.async_device_discovery(), 30)

    light = await found(manager, LIGHT)
    seen["light_type"] = light.type
    seen["light_rgb_before"] = light.get_rgb_color(channel=0)
    seen["light_supports_rgb"] = light.get_supports_rgb(channel=0)
    await asyncio.wait_for(
        light.async_set_light_color(channel=0, rgb=(255, 136, 0), luminance=40), 15)
    await asyncio.sleep(1.0)
    seen["light_rgb_after"] = light.get_rgb_color(channel=0)
    seen["light_luminance_after"] = light.get_luminance(channel=0)

    door = await found(manager, DOOR)
    seen["door_type"] = door.type
    seen["door_open_before"] = door.get_is_open(channel=0)
    await asyncio.wait_for(door.async_close(channel=0), 15)
    await asyncio.sleep(1.5)
    seen["door_open_after"] = door.get_is_open(channel=0)

    thermostat = await found(manager, THERMOSTAT)
    state = thermostat.get_thermostat_state(channel=0)
    seen["thermostat_type"] = thermostat.type
    seen["thermostat_current"] = state.current_temperature_celsius
    seen["thermostat_target_before"] = state.target_temperature_celsius
    await asyncio.wait_for(
        thermostat.async_set_thermostat_config(channel=0, manual_temperature_celsius=22.5), 15)
    await asyncio.sleep(1.0)
    seen["thermostat_target_after"] = thermostat.get_thermostat_state(channel=0).target_temperature_celsius

    manager.close()
    await http.async_logout()
    print(json.dumps(seen))


asyncio.run(main())
