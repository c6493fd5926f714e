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
_LOW = np.uint64((1 << (64 - PRECISION)) - 1)
_ALPHA = 0.7213 / (1.0 + 1.079 / REGISTERS)

Registers = npt.NDArray[np.int8]


def empty() -> Registers:
    return np.zeros(REGISTERS, dtype=np.int8)


def registers(values: npt.NDArray[np.float64]) -> Registers:
    """HyperLogLog registers of finite ``values``."""
    result = empty()
    if values.size == 0:
        return result
    h = (values + 0.0).view(np.uint64)
    h = h ^ (h >> np.uint64(30))
    h *= _C1
    h ^= h >> np.uint64(27)
    h *= _C2
    h ^= h >> np.uint64(31)
    index = (h >> np.uint64(64 - PRECISION)).astype(np.intp)
    rest = (h & _LOW) >> np.uint64(11)  # 53 - PRECISION bits: exact as float64
    exponent = np.frexp(rest.astype(np.float64))[1]  # rest in [2**(e-1), 2**e), 0 for rest == 0
    rank = (64 - PRECISION - 11 + 1 - exponent).astype(np.int8)
    np.maximum.at(result, index, rank)
    return result


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
