"""Browses for one DNS-SD service type on one interface address with python-zeroconf (an
independent resolver, installed with Home Assistant) and prints what it found as JSON:
{instance name: [port, [addresses]]}. Used by tests/it/mdns.rs; bounded to 10 s."""
import json
import sys
import time

from zeroconf import ServiceBrowser, Zeroconf

kind, address = sys.argv[1], sys.argv[2]
zc = Zeroconf(interfaces=[address])
found = {}


class Listener:
    def add_service(self, zc, type_, name):
        info = zc.get_service_info(type_, name, timeout=3000)
        if info:
            found[name] = [info.port, [str(a) for a in info.parsed_addresses()]]

    def update_service(self, zc, type_, name):
        self.add_service(zc, type_, name)

    def remove_service(self, zc, type_, name):
        pass


browser = ServiceBrowser(zc, kind, Listener())
deadline = time.time() + 10
while not found and time.time() < deadline:
    time.sleep(0.2)
print(json.dumps(found))
zc.close()
