"""Gate blocks of a recurrent kernel: the one rule the initializers and the constraints share.

Keras stacks a gated layer's recurrent kernels side by side: `SimpleRNN`'s is `(N, N)`, GRU's
`(N, 3 * N)`, LSTM's `(N, 4 * N)`. A `(rows, columns)` matrix whose columns are a whole multiple
`k` of its rows is read as `k` square `(N, N)` blocks, one per gate; an explicit `blocks`
overrides that count (any divisor of the columns).
"""

from keras import ops


def count_gate_blocks(shape, blocks=None):
    """The number of column blocks of a 2-D `shape`, or None when it has no such split.

    Args:
        shape: The weight's shape, a tuple.
        blocks: The count the user gave, or None to read it from the shape. Defaults to `None`.

    Returns:
        `blocks` when it divides the columns, `columns // rows` when `blocks` is None and the
        rows divide the columns, else None.
    """
    shape = tuple(shape)
    if len(shape) != 2 or not all(isinstance(d, int) and d > 0 for d in shape):
        return None
    rows, columns = shape
    if blocks is not None:
        return blocks if columns % blocks == 0 else None
    return columns // rows if columns % rows == 0 else None


def split_gate_blocks(w, blocks):
    """`(rows, blocks * width)` -> `(blocks, rows, width)`; block i is columns `i*width ..`."""
    rows, columns = w.shape
    return ops.transpose(ops.reshape(w, (rows, blocks, columns // blocks)), (1, 0, 2))


def stack_gate_blocks(stacked):
    """`(blocks, rows, width)` -> `(rows, blocks * width)`, the inverse of `split_gate_blocks`."""
    blocks, rows, width = stacked.shape
    return ops.reshape(ops.transpose(stacked, (1, 0, 2)), (rows, blocks * width))
