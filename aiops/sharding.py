"""Which watchdog shard owns a tenant: rendezvous (highest-random-weight) hashing.

Each tenant goes to the shard with the highest hash of ``(tenant, shard)``, so changing the
shard count moves only the tenants whose winner changed (about 1/n of them), and every
process computes the same answer without coordination.
"""

from __future__ import annotations

import hashlib


def _weight(tenant_id: str, shard: int) -> int:
    digest = hashlib.blake2b(f"{tenant_id}\x00{shard}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def shard_for(tenant_id: str, shards: int) -> int:
    """The shard index in ``range(shards)`` that owns ``tenant_id``.

    >>> shard_for("acme", 1)
    0
    >>> shard_for("acme", 4) == shard_for("acme", 4)
    True
    """
    if shards < 1:
        raise ValueError("shards must be at least 1")
    return max(range(shards), key=lambda shard: _weight(tenant_id, shard))
