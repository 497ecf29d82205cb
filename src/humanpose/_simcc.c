/*
 * humanpose._simcc: SimCC decoding in one pass over the network's output.
 *
 * The NumPy decoder (humanpose.decode) reads every logit twice per axis (argmax, then the
 * largest value outside the window around it), and the SimCC outputs of a crowded frame
 * are megabytes that arrive from memory. This kernel handles one row (one keypoint, one
 * axis) while it sits in L1: a vectorised maximum, then a vectorised scan for the values
 * within the softmax cutoff of it, which gives the first index of the maximum and the
 * softmax denominator. Results equal the NumPy decoder's (to float rounding); see
 * humanpose.decode.decode_simcc for the definitions. decode() handles the x and y axes
 * together; decode_axis() one axis alone (RTMW3D's z, humanpose.decode.decode_simcc3d).
 *
 * Plain C99 with SSE2 (x86-64) or NEON (aarch64) intrinsics, else GCC/Clang vector
 * extensions; the buffer protocol instead of the NumPy C API (no build dependency on
 * NumPy); the GIL is released while rows are decoded.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
typedef __m128 f4;
#define set4(x) _mm_set1_ps(x)
#define load4(p) _mm_loadu_ps(p)
/* maxps returns its second operand when either is NaN: NaN logits are skipped. */
#define max4(x, acc) _mm_max_ps((x), (acc))
#define lane(v, j) (((const float *)&(v))[j])
static inline int any_above(const float *p, f4 t)
{
    __m128 low = _mm_or_ps(_mm_cmpgt_ps(load4(p), t), _mm_cmpgt_ps(load4(p + 4), t));
    __m128 high = _mm_or_ps(_mm_cmpgt_ps(load4(p + 8), t), _mm_cmpgt_ps(load4(p + 12), t));
    return _mm_movemask_ps(_mm_or_ps(low, high));
}
#elif defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
typedef float32x4_t f4;
#define set4(x) vdupq_n_f32(x)
#define load4(p) vld1q_f32(p)
/* maxNum: the non-NaN operand wins, so NaN logits are skipped. */
#define max4(x, acc) vmaxnmq_f32((x), (acc))
#define lane(v, j) (((const float *)&(v))[j])
static inline int any_above(const float *p, f4 t)
{
    uint32x4_t low = vorrq_u32(vcgtq_f32(load4(p), t), vcgtq_f32(load4(p + 4), t));
    uint32x4_t high = vorrq_u32(vcgtq_f32(load4(p + 8), t), vcgtq_f32(load4(p + 12), t));
    return vmaxvq_u32(vorrq_u32(low, high)) != 0;
}
#else
/* Portable GCC/Clang vector extensions. */
typedef float f4 __attribute__((vector_size(16)));
typedef int i4 __attribute__((vector_size(16)));
static inline f4 set4(float x) { return (f4){x, x, x, x}; }
static inline f4 load4(const float *p)
{
    f4 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline f4 max4(f4 x, f4 acc)
{
    i4 gt = x > acc; /* false for NaN: NaN logits are skipped */
    return (f4)((gt & (i4)x) | (~gt & (i4)acc));
}
#define lane(v, j) ((v)[j])
static inline int any_above(const float *p, f4 t)
{
    i4 gt = (load4(p) > t) | (load4(p + 4) > t) | (load4(p + 8) > t) | (load4(p + 12) > t);
    return gt[0] | gt[1] | gt[2] | gt[3];
}
#endif

#define LANES 4
#define STEP 16 /* floats per loop step: four vectors */

/* Largest non-NaN value of v[0..n), -inf if there is none. */
static float row_max(const float *v, Py_ssize_t n)
{
    f4 acc0 = set4(-INFINITY), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    Py_ssize_t i = 0;
    for (; i + STEP <= n; i += STEP) {
        acc0 = max4(load4(v + i), acc0);
        acc1 = max4(load4(v + i + LANES), acc1);
        acc2 = max4(load4(v + i + 2 * LANES), acc2);
        acc3 = max4(load4(v + i + 3 * LANES), acc3);
    }
    f4 acc = max4(max4(acc0, acc1), max4(acc2, acc3));
    float m = -INFINITY;
    for (int j = 0; j < LANES; ++j)
        m = lane(acc, j) > m ? lane(acc, j) : m;
    for (; i < n; ++i)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* One row of one axis: the first index of its maximum m (-1 if every value is NaN or
 * -inf) and sum(exp(scale * (v - m))) over the values above m - cutoff / scale (infinite
 * for an infinite maximum, so that its confidence is 0). */
static Py_ssize_t row_decode(const float *v, Py_ssize_t n, float scale, float cutoff,
                             float *peak, double *sum)
{
    const float m = row_max(v, n);
    const float threshold = m - cutoff / scale;
    const f4 t = set4(threshold);
    Py_ssize_t argmax = -1;
    double total = 0.0;
    *peak = m;
    if (!(m > -INFINITY)) {
        *sum = 1.0;
        return -1;
    }
    if (isinf(m)) { /* an infinite logit: located like numpy.argmax, confidence 0 */
        Py_ssize_t i = 0;
        while (v[i] != m)
            ++i;
        *sum = INFINITY;
        return i;
    }
    Py_ssize_t i = 0;
    for (; i < n; i += STEP) {
        Py_ssize_t end = i + STEP <= n ? i + STEP : n;
        if (end - i == STEP && !any_above(v + i, t))
            continue;
        for (Py_ssize_t j = i; j < end; ++j) {
            if (v[j] > threshold) {
                if (argmax < 0 && v[j] == m)
                    argmax = j;
                total += exp((double)scale * ((double)v[j] - (double)m));
            }
        }
    }
    *sum = total;
    return argmax;
}

PyDoc_STRVAR(decode_doc,
"decode(simcc_x, simcc_y, rows, bins_x, bins_y, scale_x, scale_y, cutoff, inv_split,\n"
"       keypoints, scores, confidence)\n"
"\n"
"Decode ``rows`` SimCC rows (float32, C order) into the writable float32 buffers\n"
"keypoints (rows x 2, input pixels), scores (rows) and confidence (rows).");

static PyObject *decode(PyObject *self, PyObject *args)
{
    Py_buffer x, y, keypoints, scores, confidence;
    Py_ssize_t rows, bins_x, bins_y;
    float scale_x, scale_y, cutoff, inv_split;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*nnnffffw*w*w*", &x, &y, &rows, &bins_x, &bins_y,
                          &scale_x, &scale_y, &cutoff, &inv_split, &keypoints, &scores,
                          &confidence))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t f = (Py_ssize_t)sizeof(float);
    if (rows < 0 || bins_x <= 0 || bins_y <= 0 || x.len != rows * bins_x * f
        || y.len != rows * bins_y * f || keypoints.len != rows * 2 * f
        || scores.len != rows * f || confidence.len != rows * f) {
        PyErr_SetString(PyExc_ValueError,
                        "_simcc.decode: buffer sizes do not match rows x bins (float32)");
        goto done;
    }
    if (!(scale_x > 0.0f) || !(scale_y > 0.0f)) {
        PyErr_SetString(PyExc_ValueError, "_simcc.decode: the softmax scales must be > 0");
        goto done;
    }
    const float *vx = (const float *)x.buf;
    const float *vy = (const float *)y.buf;
    float *kp = (float *)keypoints.buf;
    float *score = (float *)scores.buf;
    float *conf = (float *)confidence.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < rows; ++r) {
        float peak_x, peak_y;
        double sum_x, sum_y;
        Py_ssize_t ax = row_decode(vx + r * bins_x, bins_x, scale_x, cutoff, &peak_x, &sum_x);
        Py_ssize_t ay = row_decode(vy + r * bins_y, bins_y, scale_y, cutoff, &peak_y, &sum_y);
        int found = ax >= 0 && ay >= 0;
        /* Like numpy.argmax, a row without a usable maximum reports index 0. */
        ax = ax < 0 ? 0 : ax;
        ay = ay < 0 ? 0 : ay;
        kp[2 * r] = (float)ax * inv_split;
        kp[2 * r + 1] = (float)ay * inv_split;
        score[r] = peak_x < peak_y ? peak_x : peak_y;
        double denominator = sum_x > sum_y ? sum_x : sum_y;
        double c = found && score[r] > 0.0f && denominator > 0.0 ? 1.0 / denominator : 0.0;
        conf[r] = (float)(c > 1.0 ? 1.0 : c);
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    PyBuffer_Release(&keypoints);
    PyBuffer_Release(&scores);
    PyBuffer_Release(&confidence);
    return result;
}

PyDoc_STRVAR(decode_axis_doc,
"decode_axis(logits, rows, bins, scale, cutoff, inv_split, locations, peaks, confidence)\n"
"\n"
"Decode ``rows`` SimCC rows of ONE axis (float32, C order; RTMW3D's z axis) into the\n"
"writable float32 buffers locations (rows, argmax * inv_split), peaks (rows, the row\n"
"maxima) and confidence (rows, the softmax maximum; 0 where the maximum is not > 0).");

static PyObject *decode_axis(PyObject *self, PyObject *args)
{
    Py_buffer v, locations, peaks, confidence;
    Py_ssize_t rows, bins;
    float scale, cutoff, inv_split;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nnfffw*w*w*", &v, &rows, &bins, &scale, &cutoff,
                          &inv_split, &locations, &peaks, &confidence))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t f = (Py_ssize_t)sizeof(float);
    if (rows < 0 || bins <= 0 || v.len != rows * bins * f || locations.len != rows * f
        || peaks.len != rows * f || confidence.len != rows * f) {
        PyErr_SetString(PyExc_ValueError,
                        "_simcc.decode_axis: buffer sizes do not match rows x bins (float32)");
        goto done;
    }
    if (!(scale > 0.0f)) {
        PyErr_SetString(PyExc_ValueError, "_simcc.decode_axis: the softmax scale must be > 0");
        goto done;
    }
    const float *logits = (const float *)v.buf;
    float *loc = (float *)locations.buf;
    float *peak = (float *)peaks.buf;
    float *conf = (float *)confidence.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < rows; ++r) {
        double sum;
        Py_ssize_t a = row_decode(logits + r * bins, bins, scale, cutoff, &peak[r], &sum);
        double c = a >= 0 && peak[r] > 0.0f && sum > 0.0 ? 1.0 / sum : 0.0;
        loc[r] = (float)(a < 0 ? 0 : a) * inv_split;
        conf[r] = (float)(c > 1.0 ? 1.0 : c);
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&v);
    PyBuffer_Release(&locations);
    PyBuffer_Release(&peaks);
    PyBuffer_Release(&confidence);
    return result;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS, decode_doc},
    {"decode_axis", decode_axis, METH_VARARGS, decode_axis_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_simcc",
    "One-pass SimCC decoding (see humanpose.decode); optional, NumPy is the fallback.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__simcc(void)
{
    return PyModule_Create(&module);
}
