"""Products sliced for OpenBLAS's small-matrix kernels (cnnspec.engine.products) against one
product of the whole: float64 to 1e-12, float32 to 1e-6 of the largest result, every slice
under the limit."""
import numpy as np
import pytest

from cnnspec.engine import products
from cnnspec.engine.footprint import SMALL_GEMM_MADDS

SHAPES = [(16, 150, 1700), (150, 16, 2380), (3, 4, 10), (16, 150, 832), (16, 150, 416),
          (2, 2, 250_001),
          # Winograd's transforms along a chunk's tile rows: 6 x 6, 4 x 6 and 6 x 4 matrices
          # times tens of thousands of columns; one slice and a few columns more
          (6, 6, 57_344), (4, 6, 86_016), (6, 4, 129_024), (6, 6, 28_674)]


@pytest.mark.parametrize("m, k, n", SHAPES)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_small_products_equal_one_product(m, k, n, dtype, rtol):
    """Sliced, with and without a shorter last slice, or not sliced at all: the product of the
    whole, into a view whose rows are longer than its columns (a block's zero-led rows), the
    small matrix a transposed view (as Winograd's ``A^T``, ``B^T`` are)."""
    rng = np.random.default_rng(9)
    a = rng.standard_normal((k, m)).astype(dtype).T
    b = rng.standard_normal((k, n)).astype(dtype)
    out = np.full((m, n + 7), np.nan, dtype)[:, 3:3 + n]
    assert products.small_products(a, b, out) is out
    whole = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(out, whole, rtol=0, atol=rtol * np.abs(whole).max())


@pytest.mark.parametrize("m, k, n", SHAPES)
def test_each_product_stays_under_the_small_matrix_limit(m, k, n, monkeypatch):
    """No product past SMALL_GEMM_MADDS where one slice fits under it (a product of more
    than one slice's columns had run whole up to twice past it), and the slices cover every
    column once."""
    made, matmul = [], np.matmul

    def spy(a, b, out):
        made.append((a.shape[-2] * a.shape[-1] * b.shape[-1], b.shape[:-2], b.shape[-1]))
        return matmul(a, b, out=out)

    monkeypatch.setattr(products.np, "matmul", spy)
    a, b = np.ones((m, k)), np.ones((k, n))
    products.small_products(a, b, np.empty((m, n)))
    width = max(1, SMALL_GEMM_MADDS // (m * k))
    assert all(madds <= max(SMALL_GEMM_MADDS, m * k) for madds, _, _ in made)
    columns = sum(int(np.prod(stack)) * cols for _, stack, cols in made)
    assert columns == n
    assert len(made) == (1 if n <= width else 1 + (n % width > 0))
