"""The dtypes' limits, computed from their IEEE 754 layouts without NumPy, are NumPy's."""
import numpy as np
import pytest

from cnnspec.dtypes import FORMATS, VALUE_BYTES
from cnnspec.ir.limits import FLOAT32_MAX


@pytest.mark.parametrize("dtype", list(FORMATS))
def test_a_dtypes_limits_are_numpys_finfo(dtype):
    layout, finfo = FORMATS[dtype], np.finfo(dtype)
    assert layout.fraction_bits == finfo.nmant
    assert VALUE_BYTES[dtype] == layout.bytes == finfo.bits // 8
    assert layout.largest == float(finfo.max)
    assert layout.tiny == float(finfo.tiny)
    assert layout.smallest_subnormal == float(finfo.smallest_subnormal)


def test_the_irs_float32_limit_is_float32s():
    assert FLOAT32_MAX == float(np.finfo(np.float32).max)


@pytest.mark.parametrize("dtype", list(FORMATS))
@pytest.mark.parametrize("x", [1000.0, -3000.0, 1.0, 0.75, 1e-40, 1e-310, 0.0, 3e38])
def test_a_dtypes_spacing_is_numpys(dtype, x):
    value = np.dtype(dtype).type(x)
    assert FORMATS[dtype].spacing(float(value)) == abs(float(np.spacing(value)))
