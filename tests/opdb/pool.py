"""Op database entries: pooling, resampling and pixel shuffle."""

import numpy as np

from . import OpInfo, S


def _f(m):
    return m.nn.functional


def _distinct(*shape, seed=0):
    # max pooling has kinks at ties: distinct, well separated values keep gradcheck smooth
    rng = np.random.default_rng(seed)
    return rng.permutation(int(np.prod(shape))).reshape(shape).astype("float64") / 4



X = (1, 2, 5, 5)
OPS = [
    OpInfo("max_pool2d", lambda m, x: _f(m).max_pool2d(x * 1, 2),
           [S(_distinct(1, 2, 5, 5)), S(_distinct(2, 4, 4, seed=1), name="unbatched")],
           dtypes=("float64",)),
    OpInfo("max_pool2d_opts", lambda m, x: _f(m).max_pool2d(
        x * 1, 3, stride=2, padding=1, ceil_mode=True, return_indices=True),
        [S(_distinct(1, 2, 6, 5, seed=2))], dtypes=("float64",)),
    OpInfo("max_pool2d_dilation", lambda m, x: _f(m).max_pool2d(
        x * 1, (2, 3), stride=1, dilation=(2, 1), return_indices=True),
        [S(_distinct(1, 2, 5, 5, seed=3))], dtypes=("float64",)),
    OpInfo("max_pool1d", lambda m, x: _f(m).max_pool1d(x * 1, 3, stride=2, padding=1,
                                                        return_indices=True),
           [S(_distinct(2, 3, 7, seed=4))], dtypes=("float64",)),
    OpInfo("max_pool2d_f32", lambda m, x: _f(m).max_pool2d(x, 2),
           [S((2, 3, 6, 6)), S((0, 3, 4, 4), name="empty")],
           dtypes=("float32",), gradcheck=False),
    OpInfo("avg_pool2d", lambda m, x: _f(m).avg_pool2d(x, 2), [S(X), S((2, 4, 4)),
                                                               S((0, 2, 4, 4), name="empty")]),
    OpInfo("avg_pool2d_opts", lambda m, x: _f(m).avg_pool2d(
        x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), [S((1, 2, 6, 5))]),
    OpInfo("avg_pool2d_divisor", lambda m, x: _f(m).avg_pool2d(
        x, (2, 3), stride=(1, 2), padding=(1, 1), divisor_override=3), [S(X)]),
    OpInfo("avg_pool1d", lambda m, x: _f(m).avg_pool1d(x, 3, stride=2, padding=1,
                                                        ceil_mode=True), [S((2, 3, 6))]),
    OpInfo("adaptive_avg_pool2d", lambda m, x: _f(m).adaptive_avg_pool2d(x, (2, 3)),
           [S(X), S((2, 4, 6), name="divisible"), S((2, 3, 4), name="unbatched")]),
    OpInfo("adaptive_avg_pool2d_global", lambda m, x: _f(m).adaptive_avg_pool2d(x, 1),
           [S(X)]),
    OpInfo("adaptive_avg_pool1d", lambda m, x: _f(m).adaptive_avg_pool1d(x, 3),
           [S((2, 3, 7))]),
    OpInfo("adaptive_max_pool2d", lambda m, x: _f(m).adaptive_max_pool2d(
        x * 1, (2, 3), return_indices=True), [S(_distinct(1, 2, 5, 5, seed=5))],
        dtypes=("float64",)),
    OpInfo("adaptive_max_pool1d", lambda m, x: _f(m).adaptive_max_pool1d(x * 1, 3),
           [S(_distinct(2, 3, 7, seed=6))], dtypes=("float64",)),
    OpInfo("lp_pool2d", lambda m, x: _f(m).lp_pool2d(x, 2, 2), [S((1, 2, 4, 4))],
           domain=(0.5, 2.0)),
    OpInfo("max_unpool2d", lambda m, x: _f(m).max_unpool2d(
        *_f(m).max_pool2d(x * 1, 2, return_indices=True), 2, output_size=(5, 5)),
        [S(_distinct(1, 2, 5, 5, seed=7))], dtypes=("float64",)),
    OpInfo("interpolate_nearest", lambda m, x: _f(m).interpolate(x, scale_factor=2),
           [S((1, 2, 3, 3)), S((2, 2, 3), name="1d")]),
    OpInfo("interpolate_nearest_size", lambda m, x: _f(m).interpolate(x, size=(5, 2)),
           [S((1, 2, 3, 4))]),
    OpInfo("interpolate_nearest_exact", lambda m, x: _f(m).interpolate(
        x, scale_factor=1.5, mode="nearest-exact"), [S((1, 2, 3, 4))]),
    OpInfo("interpolate_bilinear", lambda m, x: _f(m).interpolate(
        x, scale_factor=2, mode="bilinear"), [S((1, 2, 3, 3))]),
    OpInfo("interpolate_bilinear_ac", lambda m, x: _f(m).interpolate(
        x, size=(4, 5), mode="bilinear", align_corners=True), [S((1, 2, 3, 3))]),
    OpInfo("interpolate_linear", lambda m, x: _f(m).interpolate(
        x, scale_factor=0.7, mode="linear"), [S((2, 2, 7))]),
    OpInfo("interpolate_area", lambda m, x: _f(m).interpolate(x, size=(2, 3), mode="area"),
           [S(X)]),
    OpInfo("pixel_shuffle", lambda m, x: _f(m).pixel_shuffle(x, 2),
           [S((1, 8, 2, 3)), S((4, 2, 2), name="unbatched")]),
    OpInfo("pixel_unshuffle", lambda m, x: _f(m).pixel_unshuffle(x, 2),
           [S((1, 2, 4, 6)), S((2, 1, 2, 4, 2), name="5d")]),
]
