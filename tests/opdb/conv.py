"""Op database entries: convolutions, transposed convolutions, fold/unfold."""

from . import OpInfo, S


def _f(m):
    return m.nn.functional


X2 = (1, 2, 5, 5)
OPS = [
    OpInfo("conv2d", lambda m, x, w, b: _f(m).conv2d(x, w, b),
           [S(X2, (3, 2, 3, 3), (3,)), S((2, 5, 4), (2, 2, 2, 2), (2,), name="unbatched"),
            S((0, 2, 4, 4), (3, 2, 3, 3), (3,), name="empty")]),
    OpInfo("conv2d_stride_pad", lambda m, x, w: _f(m).conv2d(x, w, stride=2, padding=1),
           [S(X2, (3, 2, 3, 3))]),
    OpInfo("conv2d_stride_tuple", lambda m, x, w: _f(m).conv2d(x, w, stride=(2, 1),
                                                               padding=(0, 1)),
           [S((1, 2, 6, 5), (2, 2, 3, 2))]),
    OpInfo("conv2d_dilation", lambda m, x, w: _f(m).conv2d(x, w, dilation=2, padding=1),
           [S(X2, (2, 2, 2, 3))]),
    OpInfo("conv2d_groups", lambda m, x, w, b: _f(m).conv2d(x, w, b, groups=2),
           [S((1, 4, 3, 4), (4, 2, 2, 2), (4,))]),
    OpInfo("conv2d_same", lambda m, x, w: _f(m).conv2d(x, w, padding="same"),
           [S(X2, (2, 2, 3, 3)), S(X2, (2, 2, 2, 2), name="even")]),
    OpInfo("conv2d_valid", lambda m, x, w: _f(m).conv2d(x, w, padding="valid"),
           [S(X2, (2, 2, 3, 3))]),
    OpInfo("conv1d", lambda m, x, w, b: _f(m).conv1d(x, w, b),
           [S((2, 3, 6), (4, 3, 3), (4,)), S((3, 6), (2, 3, 2), (2,), name="unbatched")]),
    OpInfo("conv1d_stride_dil_groups",
           lambda m, x, w: _f(m).conv1d(x, w, stride=2, padding=2, dilation=2, groups=2),
           [S((2, 4, 7), (4, 2, 3))]),
    OpInfo("conv1d_same", lambda m, x, w: _f(m).conv1d(x, w, padding="same", dilation=2),
           [S((2, 2, 6), (3, 2, 4))]),
    OpInfo("conv_transpose2d", lambda m, x, w, b: _f(m).conv_transpose2d(x, w, b),
           [S((1, 2, 3, 3), (2, 3, 2, 2), (3,)),
            S((0, 2, 3, 3), (2, 3, 2, 2), (3,), name="empty")]),
    OpInfo("conv_transpose2d_stride",
           lambda m, x, w: _f(m).conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
           [S((1, 2, 3, 4), (2, 2, 3, 3))]),
    OpInfo("conv_transpose2d_groups_dil",
           lambda m, x, w: _f(m).conv_transpose2d(x, w, groups=2, dilation=2, stride=(1, 2)),
           [S((1, 4, 3, 3), (4, 1, 2, 2))]),
    OpInfo("conv_transpose1d", lambda m, x, w, b: _f(m).conv_transpose1d(
        x, w, b, stride=3, padding=1, output_padding=2), [S((2, 3, 4), (3, 2, 3), (2,))]),
    OpInfo("unfold", lambda m, x: _f(m).unfold(x, (2, 3), padding=1, stride=(2, 1)),
           [S((1, 2, 4, 5)), S((2, 4, 3), name="unbatched")]),
    OpInfo("unfold_dilation", lambda m, x: _f(m).unfold(x, 2, dilation=2),
           [S((2, 1, 5, 5))]),
    OpInfo("fold", lambda m, x: _f(m).fold(x, (3, 4), 2, padding=1, stride=2),
           [S((1, 8, 6)), S((4, 6), name="unbatched")]),
]
