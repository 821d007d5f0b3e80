#!/usr/bin/env python3
"""The demo's Wake-on-LAN side: a UDP listener on 127.0.0.1 that checks each magic packet itvd sends and
"boots" the sleeping demo workstation it names (fleet.sh switch ... off off), BOOT seconds later.

usage: wol-receiver.py FLEET_DIR BOOT_SECONDS MAC=HOST...
Prints its port on the first line, then one line per packet.
"""
import socket
import subprocess
import sys
import threading

fleet_dir, boot = sys.argv[1], float(sys.argv[2])
hosts = dict(arg.lower().split("=", 1) for arg in sys.argv[3:])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)


def power_on(host):
    subprocess.run(["bash", "scripts/fleet.sh", "switch", fleet_dir, host, "off", "off"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    print(f"wol: {host} is up", flush=True)


while True:
    data, _ = sock.recvfrom(2048)
    mac = data[6:12]
    ok = len(data) == 102 and data[:6] == b"\xff" * 6 and data[6:] == mac * 16
    text = ":".join(f"{b:02x}" for b in mac)
    head = " ".join(f"{b:02x}" for b in data[:18])
    print(f"wol: {len(data)}-byte magic packet for {text} ({'valid' if ok else 'INVALID'}): {head} ...",
          flush=True)
    host = hosts.get(text)
    if ok and host:
        threading.Timer(boot, power_on, [host]).start()
