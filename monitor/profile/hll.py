"""HyperLogLog distinct counts of float values in numpy (2**11 registers, about 2.3 % relative error).

Registers merge by taking the maximum, so batch, partition and window results combine in any order.
Values are hashed from their bit patterns with the splitmix64 finaliser; ``-0.0`` and ``0.0`` count
as one value. The estimate uses the usual small-range (linear counting) correction.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

PRECISION = 11
REGISTERS = 1 << PRECISION
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_LOW = np.uint64((1 << (64 - PRECISION)) - 1)  # the 53 hash bits below the register index
_S30, _S27, _S31, _S_INDEX = (np.uint64(k) for k in (30, 27, 31, 64 - PRECISION))
_MAX_RANK = 64 - 2 * PRECISION + 1  # rank of 42 zero bits (the lowest 11 of the 53 are not used)
_RANK_BIAS = 1022 + PRECISION  # rank = _MAX_RANK - (bit length - PRECISION) = _MAX_RANK + _RANK_BIAS - exponent
_ALPHA = 0.7213 / (1.0 + 1.079 / REGISTERS)

Registers = npt.NDArray[np.int8]


def empty() -> Registers:
    return np.zeros(REGISTERS, dtype=np.int8)


def registers(values: npt.NDArray[np.float64]) -> Registers:
    """HyperLogLog registers of finite ``values``.

    A register's rank is one plus the leading zeros of the 42 hash bits below the register index (43
    when all are zero), read off the float exponent of the 53 bits below the index: a handful of
    in-place passes over the batch.
    """
    if values.size == 0:
        return empty()
    h = (values + 0.0).view(np.uint64)
    h ^= h >> _S30
    h *= _C1
    h ^= h >> _S27
    h *= _C2
    h ^= h >> _S31
    index = (h >> _S_INDEX).view(np.int64)
    h &= _LOW
    rank = h.astype(np.float64).view(np.int64)  # exact below 2**53
    rank >>= 52  # the biased exponent: 1022 + bit length of a non-zero value, 0 for zero
    np.subtract(_MAX_RANK + _RANK_BIAS, rank, out=rank)
    np.minimum(rank, _MAX_RANK, out=rank)
    result = np.zeros(REGISTERS, dtype=np.int64)
    np.maximum.at(result, index, rank)
    return result.astype(np.int8)


def merge(a: Registers, b: Registers) -> Registers:
    return np.maximum(a, b)


def estimate(regs: Registers) -> int:
    """The estimated number of distinct values."""
    zeros = int(np.count_nonzero(regs == 0))
    if zeros == REGISTERS:
        return 0
    raw = _ALPHA * REGISTERS * REGISTERS / float(np.sum(np.exp2(-regs.astype(np.float64))))
    if raw <= 2.5 * REGISTERS and zeros > 0:
        raw = REGISTERS * np.log(REGISTERS / zeros)
    return max(1, round(raw))
