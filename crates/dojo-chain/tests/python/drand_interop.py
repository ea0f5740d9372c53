"""Timelock interop with the real `bittensor-drand` package (offline: signatures come from argv).

encrypt HEX ROUND          -> prints hex of bittensor_drand.encrypt_at_round(bytes, ROUND)
decrypt CT_HEX SIG_HEX     -> prints hex of bittensor_drand.decrypt_with_signature(ct, sig)
"""

import sys

import bittensor_drand


def main() -> None:
    cmd = sys.argv[1]
    if cmd == "encrypt":
        ct, _round = bittensor_drand.encrypt_at_round(bytes.fromhex(sys.argv[2]), int(sys.argv[3]))
        print(bytes(ct).hex())
    elif cmd == "decrypt":
        print(bytes(bittensor_drand.decrypt_with_signature(bytes.fromhex(sys.argv[2]), sys.argv[3])).hex())
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
