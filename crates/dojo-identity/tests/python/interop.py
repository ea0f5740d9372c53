"""Interop helper for dojo-identity tests: drives the real bittensor-wallet package.

Usage:
  interop.py create PATH NAME HOTKEY PASSWORD MESSAGE   -> creates a wallet, prints JSON with addresses,
                                                           the hotkey's signature of MESSAGE and its public key
  interop.py check PATH NAME HOTKEY PASSWORD MESSAGE SIG -> loads a wallet (decrypting the coldkey), prints JSON
                                                           with addresses and whether SIG verifies
"""
import json
import sys

from bittensor_wallet import Keypair, Wallet


def main():
    cmd, path, name, hotkey, password, message = sys.argv[1:7]
    w = Wallet(name=name, hotkey=hotkey, path=path)
    if cmd == "create":
        w.create_new_coldkey(n_words=12, use_password=True, overwrite=True, suppress=True, coldkey_password=password)
        w.create_new_hotkey(n_words=12, use_password=False, overwrite=True, suppress=True)
        hot = w.get_hotkey()
        out = {
            "coldkey": w.get_coldkeypub().ss58_address,
            "hotkey": hot.ss58_address,
            "signature": "0x" + hot.sign(message.encode()).hex(),
            "alice": Keypair.create_from_uri("//Alice").ss58_address,
        }
    elif cmd == "check":
        sig = sys.argv[7]
        cold = w.get_coldkey(password=password)
        hot = w.get_hotkey()
        out = {
            "coldkey": cold.ss58_address,
            "coldkeypub": w.get_coldkeypub().ss58_address,
            "hotkey": hot.ss58_address,
            "verifies": bool(hot.verify(message.encode(), sig)),
            "verifies_tampered": bool(hot.verify((message + "x").encode(), sig)),
        }
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
