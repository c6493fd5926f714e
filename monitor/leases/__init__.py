"""Leases with fencing tokens: replicas share the models and the alert flushes (docs/high-availability.md)."""

from monitor.leases.keeper import FLUSH, LeaseKeeper, model_lease
from monitor.leases.single import SecondReplica, single_replica
from monitor.leases.store import Lease, LeaseStore, bound_idle_transactions

__all__ = ["FLUSH", "Lease", "LeaseKeeper", "LeaseStore", "SecondReplica", "bound_idle_transactions", "model_lease",
           "single_replica"]
