"""Op database entries: elementwise ops."""

import numpy as np

from . import OpInfo, S

BIN = [S((3, 4), (3, 4)), S((3, 4), (4,), name="bcast"), S((), (2, 3), name="0d"),
       S((0, 3), (3,), name="empty")]
UN = [S((3, 4)), S(()), S((0,)), S((2, 1, 3))]
POS = (0.2, 3.0)
CLOSE_A = np.array([1.0, np.nan, np.inf, -np.inf, np.inf, 0.0, 1e-9, 2.0, np.nan])
CLOSE_B = np.array([1.05, np.nan, np.inf, np.inf, 1.0, 0.0, 0.0, 2.7, 1.0])

OPS = [
    OpInfo("add", lambda m, a, b: m.add(a, b), BIN),
    OpInfo("add_alpha", lambda m, a, b: m.add(a, b, alpha=2), BIN[:2]),
    OpInfo("add_scalar", lambda m, a: a + 2, UN),
    OpInfo("radd_scalar", lambda m, a: 2.5 + a, UN[:2]),
    OpInfo("sub", lambda m, a, b: a - b, BIN),
    OpInfo("rsub_scalar", lambda m, a: 1 - a, UN[:2]),
    OpInfo("mul", lambda m, a, b: a * b, BIN),
    OpInfo("div", lambda m, a, b: a / b, [S((3, 4), (3, 4)), S((3, 4), (4,))], domain=POS),
    OpInfo("rdiv_scalar", lambda m, a: 2 / a, UN[:2], domain=POS),
    OpInfo("neg", lambda m, a: -a, UN),
    OpInfo("pow_scalar", lambda m, a: a ** 3, UN),
    OpInfo("pow_tensor", lambda m, a, b: m.pow(a, b), [S((3, 4), (3, 4)), S((3, 4), (4,))],
           domain=POS),
    OpInfo("rpow_scalar", lambda m, a: 2 ** a, UN[:2]),
    OpInfo("exp", lambda m, a: m.exp(a), UN),
    OpInfo("log", lambda m, a: m.log(a), UN, domain=POS),
    OpInfo("sqrt", lambda m, a: m.sqrt(a), UN, domain=POS),
    OpInfo("sin", lambda m, a: a.sin(), UN),
    OpInfo("cos", lambda m, a: a.cos(), UN),
    OpInfo("tanh", lambda m, a: m.tanh(a), UN),
    OpInfo("sigmoid", lambda m, a: m.sigmoid(a), UN),
    OpInfo("relu", lambda m, a: m.relu(a), UN),
    OpInfo("abs", lambda m, a: m.abs(a), UN),
    OpInfo("maximum", lambda m, a, b: m.maximum(a, b), BIN[:2]),
    OpInfo("where", lambda m, c, a, b: m.where(c, a, b),
           [S(np.array([[True, False, True, False]] * 3), (3, 4), (4,))]),
    OpInfo("remainder", lambda m, a: m.remainder(a, 1.5), UN[:2]),
    OpInfo("fmod", lambda m, a: m.fmod(a, 1.5), UN[:2]),
]

# ---------------------------------------------------------------- more elementwise ops

UNIT = (-0.9, 0.9)
PROB = (0.05, 0.95)
SPECIALS = np.array([1.0, np.nan, np.inf, -np.inf])
BIN2 = BIN[:2]
TERN = [S((3, 4), (3, 4), (3, 4)), S((3, 4), (4,), (3, 1), name="bcast"),
        S((), (2, 3), (), name="0d"), S((0, 3), (3,), (3,), name="empty")]


UNIT01 = (0.2, 0.9)
UNARY_INPLACE = ("exp2_", "log2_", "log10_", "log1p_", "expm1_", "rsqrt_", "reciprocal_", "tan_",
                 "asin_", "acos_", "atan_", "arcsin_", "arccos_", "arctan_", "sinh_", "cosh_",
                 "erf_", "erfc_", "erfinv_", "sign_", "sgn_", "ceil_", "frac_")


def _sum_inplace(a, names):
    """Each in-place method applied to its own non-leaf copy of ``a``, summed."""
    out = 0
    for n in names:
        out = out + getattr(a * 1, n)()
    return out


def _special(m, x, s):
    """``x`` plus NaN/inf entries that carry no gradient of their own."""
    return x + s.to(x.dtype)


OPS += [
    OpInfo("exp2", lambda m, a: m.exp2(a), UN),
    OpInfo("log2", lambda m, a: m.log2(a), UN, domain=POS),
    OpInfo("log10", lambda m, a: a.log10(), UN, domain=POS),
    OpInfo("log1p", lambda m, a: m.log1p(a), UN, domain=(-0.8, 2.0)),
    OpInfo("expm1", lambda m, a: m.expm1(a), UN),
    OpInfo("rsqrt", lambda m, a: m.rsqrt(a), UN, domain=POS),
    OpInfo("reciprocal", lambda m, a: m.reciprocal(a), UN, domain=POS),
    OpInfo("square", lambda m, a: m.square(a), UN),
    OpInfo("tan", lambda m, a: m.tan(a), UN, domain=(-1.2, 1.2)),
    OpInfo("asin", lambda m, a: m.asin(a), UN, domain=UNIT),
    OpInfo("acos", lambda m, a: m.acos(a), UN, domain=UNIT),
    OpInfo("atan", lambda m, a: m.atan(a), UN),
    OpInfo("arcsin_method", lambda m, a: a.arcsin() + a.arccos() + a.arctan(), UN[:2],
           domain=UNIT),
    OpInfo("sinh", lambda m, a: m.sinh(a), UN),
    OpInfo("cosh", lambda m, a: m.cosh(a), UN),
    OpInfo("atan2", lambda m, a, b: m.atan2(a, b), BIN),
    OpInfo("arctan2_method", lambda m, a, b: a.arctan2(b), BIN2),
    OpInfo("logit", lambda m, a: m.logit(a), UN, domain=PROB),
    # samples straddle the eps clamp, whose gradient is 0 outside [eps, 1 - eps]
    OpInfo("logit_eps", lambda m, a: m.logit(a, eps=0.2), UN[:2], domain=PROB),
    OpInfo("erf", lambda m, a: m.erf(a), UN + [S((5, 6), name="wide")], domain=(-4.0, 4.0)),
    OpInfo("erfc", lambda m, a: m.erfc(a), UN + [S((5, 6), name="wide")], domain=(-3.0, 6.0)),
    OpInfo("erfinv", lambda m, a: m.erfinv(a), UN, domain=(-0.99, 0.99)),
    OpInfo("clamp", lambda m, a: m.clamp(a, -0.5, 0.7), UN),
    OpInfo("clamp_min_only", lambda m, a: m.clamp(a, min=0.3), UN[:2]),
    OpInfo("clamp_max_only", lambda m, a: a.clamp(max=-0.3), UN[:2]),
    OpInfo("clip", lambda m, a: m.clip(a, -1, 1), UN[:2]),
    # a 0-d input with bigger bounds is refused by torch's clamp (out shape mismatch)
    OpInfo("clamp_tensor", lambda m, a, lo, hi: m.clamp(a, lo, hi), TERN[:2] + TERN[3:]),
    OpInfo("clamp_tensor_min", lambda m, a, lo: m.clamp(a, min=lo), BIN),
    OpInfo("clamp_tensor_max", lambda m, a, hi: m.clamp(a, max=hi), BIN),
    OpInfo("clamp_min", lambda m, a: m.clamp_min(a, 0.1), UN[:2]),
    OpInfo("clamp_max_tensor", lambda m, a, b: m.clamp_max(a, b), BIN2),
    OpInfo("ceil", lambda m, a: m.ceil(a), UN),
    OpInfo("round", lambda m, a: m.round(a), UN),
    OpInfo("round_decimals", lambda m, a: m.round(a * 10, decimals=1), UN[:2]),
    OpInfo("round_neg_decimals", lambda m, a: m.round(a * 100, decimals=-1), UN[:2]),
    OpInfo("frac", lambda m, a: m.frac(a * 3), UN),
    OpInfo("sign", lambda m, a: m.sign(a), UN),
    OpInfo("sgn", lambda m, a: m.sgn(a) * a, UN),
    OpInfo("signbit", lambda m, a: m.signbit(a), UN, grad=False),
    OpInfo("positive", lambda m, a: m.positive(a) * 2, UN[:2]),
    OpInfo("minimum", lambda m, a, b: m.minimum(a, b), BIN),
    OpInfo("fmax", lambda m, a, b: m.fmax(a, b), BIN),
    OpInfo("fmin", lambda m, a, b: m.fmin(a, b), BIN),
    OpInfo("fmax_nan", lambda m, a, s, b: m.fmax(_special(m, a, s), b),
           [S((3, 4), SPECIALS[[0, 1, 0, 1]], (3, 4), grad=(0, 2))]),
    OpInfo("fmin_nan", lambda m, a, s, b: m.fmin(b, _special(m, a, s)),
           [S((3, 4), SPECIALS[[0, 1, 0, 1]], (3, 4), grad=(0, 2))]),
    OpInfo("lerp_scalar", lambda m, a, b: m.lerp(a, b, 0.3), BIN),
    OpInfo("lerp_tensor", lambda m, a, b, w: m.lerp(a, b, w), TERN),
    OpInfo("hypot", lambda m, a, b: m.hypot(a, b), BIN),
    OpInfo("xlogy", lambda m, a, b: m.xlogy(a, b), BIN, domain=POS),
    OpInfo("xlogy_scalar", lambda m, b: m.xlogy(2.0, b), UN[:2], domain=POS),
    # at x == 0 the gradient wrt x is defined as 0 (not log(y)), so only y is checked there
    OpInfo("xlogy_zeros", lambda m, z, b: m.xlogy(z.to(b.dtype), b),
           [S(np.array([0.0, 0.0, 1.0, 2.0]), (4,), grad=(1,))], domain=POS),
    OpInfo("copysign", lambda m, a, b: m.copysign(a, b), BIN),
    OpInfo("copysign_scalar", lambda m, a: m.copysign(a, -1.0), UN[:2]),
    OpInfo("float_power", lambda m, a: m.float_power(a, 2), UN),
    OpInfo("float_power_tensor", lambda m, a, b: m.float_power(a, b), BIN2, domain=POS),
    OpInfo("true_divide", lambda m, a, b: m.true_divide(a, b), BIN2, domain=POS),
    OpInfo("addcmul", lambda m, a, b, c: m.addcmul(a, b, c, value=0.5), TERN),
    OpInfo("addcdiv", lambda m, a, b, c: m.addcdiv(a, b, c, value=-2), TERN, domain=POS),
    OpInfo("nan_to_num", lambda m, a, s: m.nan_to_num(_special(m, a, s)),
           [S((3, 4), SPECIALS, grad=(0,))]),
    OpInfo("nan_to_num_args",
           lambda m, a, s: m.nan_to_num(_special(m, a, s), nan=1.5, posinf=9.0, neginf=-7.0),
           [S((3, 4), SPECIALS, grad=(0,)), S((2, 4), SPECIALS, grad=(0,))]),
    OpInfo("isnan", lambda m, a, s: m.isnan(_special(m, a, s)), [S((3, 4), SPECIALS)],
           grad=False),
    OpInfo("isinf", lambda m, a, s: m.isinf(_special(m, a, s)), [S((3, 4), SPECIALS)],
           grad=False),
    OpInfo("isfinite", lambda m, a, s: _special(m, a, s).isfinite(), [S((3, 4), SPECIALS)],
           grad=False),
    OpInfo("isposinf", lambda m, a, s: m.isposinf(_special(m, a, s)), [S((3, 4), SPECIALS)],
           grad=False),
    OpInfo("isneginf", lambda m, a, s: m.isneginf(_special(m, a, s)), [S((3, 4), SPECIALS)],
           grad=False),
    OpInfo("logical_and", lambda m, a, b: m.logical_and(a > 0, b), BIN, grad=False),
    OpInfo("logical_or", lambda m, a, b: m.logical_or(a > 0.5, b > 0.5), BIN, grad=False),
    OpInfo("logical_xor", lambda m, a, b: a.logical_xor(b > 0), BIN, grad=False),
    OpInfo("logical_not", lambda m, a: m.logical_not(a > 0), UN, grad=False),
    OpInfo("bitwise_and", lambda m, a, b: m.bitwise_and((a * 10).long(), (b * 10).long()), BIN,
           grad=False),
    OpInfo("bitwise_or", lambda m, a, b: m.bitwise_or((a * 10).int(), (b * 10).int()), BIN,
           grad=False),
    OpInfo("bitwise_xor", lambda m, a, b: m.bitwise_xor((a * 10).long(), 5), BIN, grad=False),
    OpInfo("bitwise_not", lambda m, a: m.bitwise_not((a * 10).long()), UN, grad=False),
    OpInfo("bool_operators", lambda m, a, b: ((a > 0) & (b > 0)) | ~(a > 1) ^ (b < -1), BIN,
           grad=False),
    OpInfo("int_operators", lambda m, a, b: ((a * 9).long() & 6) | (3 ^ ~(b * 9).long()), BIN,
           grad=False),
    # in-place variants, on a non-leaf copy of the input
    OpInfo("add_", lambda m, a, b: (a * 1).add_(b, alpha=2), BIN2),
    OpInfo("sub_", lambda m, a, b: (a * 1).sub_(b), BIN2),
    OpInfo("mul_", lambda m, a, b: (a * 1).mul_(b), BIN2),
    OpInfo("div_", lambda m, a, b: (a * 1).div_(b), BIN2, domain=POS),
    OpInfo("clamp_", lambda m, a: (a * 1).clamp_(-0.5, 0.5), UN[:2]),
    OpInfo("clamp_tensor_", lambda m, a, lo, hi: (a * 1).clamp_(lo, hi), TERN[:2]),
    OpInfo("clamp_min_", lambda m, a: (a * 1).clamp_min_(0.2), UN[:2]),
    OpInfo("clamp_max_", lambda m, a: (a * 1).clamp_max_(0.2), UN[:2]),
    OpInfo("clip_", lambda m, a: (a * 1).clip_(max=0.2), UN[:2]),
    OpInfo("copy_", lambda m, a, b: (a * 1).copy_(b), BIN2),
    OpInfo("copy_cast", lambda m, b: m.zeros(3, 4, dtype=m.float64).copy_(b), [S((4,))]),
    OpInfo("copy_into_int", lambda m, b: m.zeros(2, 3, dtype=m.int64).copy_(b * 5), [S((3,))],
           grad=False),
    OpInfo("square_", lambda m, a: (a * 1).square_(), UN[:2]),
    OpInfo("unary_inplace", lambda m, a: _sum_inplace(a, UNARY_INPLACE), UN[:2], domain=UNIT01),
    OpInfo("logit_", lambda m, a: (a * 1).logit_(eps=0.1), UN[:2], domain=PROB),
    OpInfo("round_", lambda m, a: (a * 10).round_(decimals=1), UN[:2]),
    OpInfo("frac_", lambda m, a: (a * 3).frac_() + (a * 1).ceil_(), UN[:2]),
    OpInfo("nan_to_num_", lambda m, a, s: _special(m, a, s).nan_to_num_(posinf=2.0),
           [S((3, 4), SPECIALS, grad=(0,))]),
    OpInfo("lerp_", lambda m, a, b, w: (a * 1).lerp_(b, w), TERN[:2]),
    OpInfo("hypot_", lambda m, a, b: (a * 1).hypot_(b), BIN2),
    OpInfo("atan2_", lambda m, a, b: (a * 1).atan2_(b), BIN2),
    OpInfo("xlogy_", lambda m, a, b: (a * 1).xlogy_(b), BIN2, domain=POS),
    OpInfo("copysign_", lambda m, a, b: (a * 1).copysign_(b), BIN2),
    OpInfo("float_power_", lambda m, a: (a.double() * 1).float_power_(3), UN[:2]),
    OpInfo("addcmul_", lambda m, a, b, c: (a * 1).addcmul_(b, c, value=3), TERN[:2]),
    OpInfo("addcdiv_", lambda m, a, b, c: (a * 1).addcdiv_(b, c, value=0.5), TERN[:2],
           domain=POS),
    # closeness and equality (no gradients)
    OpInfo("isclose", lambda m, a, b: m.isclose(a, a + b * 1e-5),
           [S((3, 4), (3, 4)), S((3, 4), (4,), name="bcast"), S((), (2, 3), name="0d"),
            S((0,), (0,), name="empty")], grad=False),
    OpInfo("isclose_args", lambda m, a, b: a.isclose(b, rtol=0.1, atol=0.5, equal_nan=True),
           [S(CLOSE_A, CLOSE_B)], grad=False),
    OpInfo("isclose_specials", lambda m, a, b: m.isclose(a, b), [S(CLOSE_A, CLOSE_B)],
           grad=False),
    OpInfo("isclose_int", lambda m, a, b: m.isclose((a * 3).to(m.int64), (b * 3).to(m.int64),
                                                     rtol=0.5, atol=1),
           [S((3, 4), (3, 4))], grad=False, domain=(-4.0, 4.0)),
    OpInfo("isclose_uint8", lambda m, a, b: m.isclose((a * 3).to(m.uint8), (b * 3).to(m.uint8),
                                                       rtol=0, atol=2),
           [S((3, 4), (3, 4))], grad=False, domain=(0.0, 4.0)),
    OpInfo("isclose_bool", lambda m, a, b: m.isclose(a > 0, b > 0), [S((3, 4), (3, 4))],
           grad=False),
    OpInfo("allclose", lambda m, a, b: (m.allclose(a, a + b * 1e-9), a.allclose(b),
                                        m.allclose(a, b, atol=5.0)),
           [S((3, 4), (3, 4)), S((2, 3), (3,), name="bcast")], grad=False),
    OpInfo("equal", lambda m, a, b: (m.equal(a, a * 1), a.equal(b), m.equal(a, a[:1]),
                                     m.equal(a, a.to(m.float64))),
           [S((3, 4), (3, 4)), S((0, 2), (0, 2), name="empty")], grad=False),
]
