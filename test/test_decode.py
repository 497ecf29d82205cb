import numpy as np
import pytest

from humanpose import decode
from humanpose.decode import decode_heatmap, decode_pose_outputs, decode_simcc, refine_dark
from humanpose.errors import ModelLoadError

KERNEL = decode._kernel
NO_KERNEL = 'the C kernel humanpose._simcc was not built (no C compiler at install time)'


@pytest.fixture(params=['kernel', 'numpy'])
def simcc_impl(request, monkeypatch):
    """Run a SimCC test with the C kernel, then with the NumPy decoder."""
    if request.param == 'kernel' and KERNEL is None:
        pytest.skip(NO_KERNEL)
    monkeypatch.setattr(decode, '_kernel', KERNEL if request.param == 'kernel' else None)
    return request.param


def test_simcc_hand_computed(simcc_impl):
    sx = np.full((1, 2, 8), -1.0, np.float32)
    sy = np.full((1, 2, 6), -1.0, np.float32)
    sx[0, 0, 5], sy[0, 0, 2] = 0.9, 0.4   # keypoint 0 at bins (5, 2)
    sx[0, 1, 1], sy[0, 1, 3] = 0.7, -0.2  # keypoint 1: y maximum negative -> invalid
    kp, scores, conf = decode_simcc(sx, sy, split_ratio=2.0, sigma=(1.0, 1.0), beta=1.0)
    np.testing.assert_allclose(kp[0], [[2.5, 1.0], [0.5, 1.5]])
    np.testing.assert_allclose(scores[0], [0.4, -0.2])
    # Visibility: min over axes of the softmax maximum, by hand.
    px = np.exp(0.9) / (np.exp(0.9) + 7 * np.exp(-1.0))
    py = np.exp(0.4) / (np.exp(0.4) + 5 * np.exp(-1.0))
    np.testing.assert_allclose(conf[0, 0], min(px, py), rtol=1e-6)
    assert conf[0, 1] == 0.0


def test_simcc_confidence_always_in_unit_range(simcc_impl):
    rng = np.random.default_rng(0)
    sx = rng.normal(0, 5, (4, 133, 384)).astype(np.float32)
    sy = rng.normal(0, 5, (4, 133, 512)).astype(np.float32)
    _, _, conf = decode_simcc(sx, sy, 2.0)
    assert conf.min() >= 0.0 and conf.max() <= 1.0 and np.isfinite(conf).all()


def _gaussian(h, w, x, y, sigma=2.0):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2)).astype(np.float32)


@pytest.mark.parametrize('x, y', [(20.3, 30.7), (11.75, 40.2), (33.5, 12.5), (24.0, 31.0)])
def test_dark_recovers_subpixel_gaussian_peak(x, y):
    maps = _gaussian(64, 48, x, y)[None, None]
    loc = np.array([[[np.round(x), np.round(y)]]], np.float32)
    refined = refine_dark(loc, maps, 11)
    assert np.abs(refined[0, 0] - [x, y]).max() < 0.05


def test_heatmap_decode_scales_to_input_pixels():
    maps = np.stack([_gaussian(64, 48, 20.3, 30.7), _gaussian(64, 48, 5.6, 50.1)])[None]
    maps[0, 1] *= 0.5
    kp, scores, conf = decode_heatmap(maps, (192, 256))
    np.testing.assert_allclose(kp[0], [[20.3 * 4, 30.7 * 4], [5.6 * 4, 50.1 * 4]], atol=0.2)
    assert 0.45 < conf[0, 1] < 0.55 and conf[0, 0] > 0.9
    plain, _, _ = decode_heatmap(maps, (192, 256), dark=False)
    np.testing.assert_allclose(plain[0, 0], [80, 124])


def test_empty_batches_decode(simcc_impl):
    kp, scores, conf = decode_simcc(np.zeros((0, 17, 384), np.float32),
                                    np.zeros((0, 17, 512), np.float32), 2.0)
    assert kp.shape == (0, 17, 2) and conf.shape == (0, 17)
    kp, _, _ = decode_heatmap(np.zeros((0, 17, 64, 48), np.float32), (192, 256))
    assert kp.shape == (0, 17, 2)


def test_unknown_outputs_are_a_clear_error():
    with pytest.raises(ModelLoadError, match='simcc_x'):
        decode_pose_outputs({'a': np.zeros((1, 2, 3), np.float32)},
                            {'type': 'simcc', 'split_ratio': 2.0}, (192, 256))
    with pytest.raises(ModelLoadError, match='no pose decoder'):
        decode_pose_outputs({}, {'type': 'regression'}, (192, 256))


def _full_softmax_max(v, scale):
    e = np.exp((v - v.max(-1, keepdims=True)).astype(np.float64) * scale)
    return (e / e.sum(-1, keepdims=True)).max(-1)


@pytest.mark.parametrize('shape', ['gaussian', 'bimodal', 'flat', 'edge'])
def test_visibility_equals_the_full_softmax_and_leaves_inputs_alone(shape, simcc_impl):
    rng = np.random.default_rng(3)
    bins = np.arange(384)
    centre = rng.uniform(0, 383, (2, 17, 1))
    sx = np.exp(-0.5 * ((bins - centre) / 4.9) ** 2).astype(np.float32)
    if shape == 'bimodal':
        sx += np.roll(sx, 150, axis=-1)
    elif shape == 'flat':
        sx = rng.normal(0, 0.01, sx.shape).astype(np.float32)
    elif shape == 'edge':
        sx[..., 0] = 2.0
    sy = sx[..., :256].copy()
    before_x, before_y = sx.copy(), sy.copy()
    _, raw, conf = decode_simcc(sx, sy, 2.0, sigma=(4.9, 5.66), beta=150.0)
    expected = np.minimum(_full_softmax_max(sx, 150 * 4.9), _full_softmax_max(sy, 150 * 5.66))
    expected[raw <= 0] = 0.0  # invalid keypoints have confidence 0
    np.testing.assert_allclose(conf, expected, atol=1e-6)
    np.testing.assert_array_equal(sx, before_x)
    np.testing.assert_array_equal(sy, before_y)


def _realistic_simcc(rng, n, k, bins_x, bins_y):
    """Gaussian SimCC rows (the codec's sigmas) with a little noise, some bimodal."""
    rows = []
    for bins, sigma in ((bins_x, 4.9), (bins_y, 5.66)):
        centre = rng.uniform(0, bins - 1, (n, k, 1))
        v = np.exp(-0.5 * ((np.arange(bins) - centre) / sigma) ** 2)
        v += rng.normal(0, 0.01, v.shape)
        v[:, ::5] += np.roll(v[:, ::5], bins // 3, axis=-1) * 0.99  # several modes
        rows.append(v.astype(np.float32))
    return rows


@pytest.mark.skipif(KERNEL is None, reason=NO_KERNEL)
@pytest.mark.parametrize('n, bins_x, bins_y', [(1, 384, 512), (20, 384, 512), (3, 6, 8),
                                               (2, 17, 33), (0, 384, 512)])
def test_kernel_equals_numpy(n, bins_x, bins_y, monkeypatch):
    # (20, 384, 512) is above the two-thread threshold; 6, 17, 33 bins exercise the
    # kernel's scalar tails.
    sx, sy = _realistic_simcc(np.random.default_rng(n + bins_x), n, 133, bins_x, bins_y)
    sx[:, 7] = -np.inf                # no usable maximum on x
    sy[:, 9, 3] = np.inf               # an infinite logit
    sx[:, 11, 2], sx[:, 11, 4] = 0.95, 0.95  # a tie: the first index wins
    fast = decode_simcc(sx, sy, 2.0)
    monkeypatch.setattr(decode, '_kernel', None)
    slow = decode_simcc(sx, sy, 2.0)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])
    np.testing.assert_allclose(fast[2], slow[2], atol=1e-6)


@pytest.mark.skipif(KERNEL is None, reason=NO_KERNEL)
def test_kernel_takes_strided_and_float64_outputs_and_refuses_wrong_buffers():
    sx, sy = _realistic_simcc(np.random.default_rng(1), 2, 17, 384, 512)
    expected = decode_simcc(sx, sy, 2.0)
    strided = decode_simcc(np.repeat(sx, 2, axis=1)[:, ::2], sy.astype(np.float64), 2.0)
    for got, want in zip(strided, expected):
        np.testing.assert_allclose(got, want, atol=1e-6)
    out = np.empty(34, np.float32)
    with pytest.raises(ValueError, match='buffer sizes'):
        KERNEL.decode(sx, sy, 34, 384, 512, 735.0, 849.0, 20.0, 0.5, out, out, out)


def test_the_implementation_in_use_is_named(simcc_impl):
    expected = 'C kernel' if simcc_impl == 'kernel' else 'numpy (C kernel not built)'
    assert decode.simcc_implementation() == expected


def test_simcc_shape_mismatch_is_a_clear_error():
    with pytest.raises(ModelLoadError, match='same N and K'):
        decode_simcc(np.zeros((1, 17, 384), np.float32), np.zeros((2, 17, 512), np.float32), 2.0)


def test_simcc3d_z_follows_mmpose_codec(simcc_impl):
    from humanpose.decode import Z_RANGE_M, decode_simcc3d
    sx = np.full((1, 3, 576), -1.0, np.float32)
    sy = np.full((1, 3, 768), -1.0, np.float32)
    sz = np.full((1, 3, 576), -1.0, np.float32)
    sx[..., 100] = sy[..., 200] = 0.9
    for k, z_bin in enumerate((288, 0, 432)):  # the root's depth, the near end, +half range
        sz[0, k, z_bin] = 0.8
    out = decode_simcc3d(sx, sy, sz, 2.0)
    np.testing.assert_allclose(out.keypoints[0], [[50.0, 100.0]] * 3)
    # z_rel = (argmax / 2 / (288 / 2) - 1) * 2.1744869 m (rtmlib divides by 384 / 2).
    np.testing.assert_allclose(out.relative_depth[0], [0.0, -Z_RANGE_M, 0.5 * Z_RANGE_M],
                               atol=1e-6)
    pz = 1.0 / (1.0 + 575 * np.exp(-1.8 * 150 * 6.0))
    np.testing.assert_allclose(out.relative_depth_confidence[0], pz, rtol=1e-6)
    sz[0, 2] = -0.5  # no positive z maximum: z confidence 0, location still decoded
    assert decode_simcc3d(sx, sy, sz, 2.0).relative_depth_confidence[0, 2] == 0.0


def test_simcc3d_kernel_and_numpy_agree_on_random_logits():
    if KERNEL is None:
        pytest.skip(NO_KERNEL)
    from humanpose.decode import decode_simcc3d
    rng = np.random.default_rng(5)
    sx = rng.normal(0, 3, (4, 133, 576)).astype(np.float32)
    sy = rng.normal(0, 3, (4, 133, 768)).astype(np.float32)
    sz = rng.normal(0, 0.02, (4, 133, 576)).astype(np.float32)  # flat: whole-row softmax
    sz[:, ::3] += (np.exp(-0.5 * ((np.arange(576) - 300.0) / 6.0) ** 2)).astype(np.float32)
    sz[0, 0] = -np.inf           # no usable maximum
    sz[1, 2, 5] = np.inf         # an infinite logit
    sz[2, 4, 20] = sz[2, 4, 40] = 5.0  # a tie: the first index wins
    fast = decode_simcc3d(sx, sy, sz, 2.0)
    decode._kernel = None
    try:
        slow = decode_simcc3d(sx, sy, sz, 2.0)
    finally:
        decode._kernel = KERNEL
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)
    assert (fast.relative_depth_confidence >= 0).all()
    assert (fast.relative_depth_confidence <= 1).all()


def test_simcc3d_bad_outputs_are_clear_errors(simcc_impl):
    from humanpose.decode import decode_pose, decode_simcc3d
    sx = np.zeros((1, 133, 576), np.float32)
    sy = np.zeros((1, 133, 768), np.float32)
    with pytest.raises(ModelLoadError, match=r'simcc_z must be \(N, K, 576\)'):
        decode_simcc3d(sx, sy, np.zeros((1, 133, 768), np.float32), 2.0)
    head3d = {'type': 'simcc3d', 'split_ratio': 2.0}
    with pytest.raises(ModelLoadError, match='needs 3 outputs.*2D model'):
        decode_pose({'simcc_x': sx, 'simcc_y': sy}, head3d, (288, 384))
    three = {'output': sx, '1554': sy, '1556': np.zeros((1, 133, 576), np.float32)}
    with pytest.raises(ModelLoadError, match='3D .*simcc3d'):
        decode_pose(three, {'type': 'simcc', 'split_ratio': 2.0}, (288, 384))
    # Generic names: taken in the model's order.
    assert decode_pose(three, head3d, (288, 384)).relative_depth.shape == (1, 133)
