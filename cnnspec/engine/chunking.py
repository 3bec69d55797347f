"""How many columns a convolution's chunk of im2col columns may have: plain numbers, without
NumPy, so that ``check``'s memory estimate reads the bound the engine keeps
(:mod:`cnnspec.engine.calibrate` times the candidates and picks one;
:mod:`cnnspec.engine.conv_tuned` chunks a batch by it)."""

COLUMN_CANDIDATES = (512, 1024, 2048, 4096, 8192)  # the column limits calibration times


def chunk_columns_bound(columns_per_image: int, images: int) -> int:
    """The most columns one chunk of a batch of ``images`` images, ``columns_per_image`` each,
    can have on any machine: a chunk is the whole batch, or one image, or at most as many
    images as the largest candidate limit holds."""
    return min(images * columns_per_image, max(columns_per_image, max(COLUMN_CANDIDATES)))
