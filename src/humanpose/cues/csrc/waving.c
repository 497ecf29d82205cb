/*
 * The temporal cues: waving (a sinusoid fitted to each hand's recent samples) and the
 * per-track memory of one image (ring buffers of the waving samples, wave hold, looking
 * timer, engagement).
 *
 * oscillation() is humanpose.cues.waving.detect_oscillation: for every signal with enough
 * valid samples over a long enough span, the weighted least-squares fit of
 * x(t) = a cos(2 pi f t) + b sin(2 pi f t) + c + d t at each frequency of an evenly spaced
 * grid (the generalised Lomb-Scargle periodogram). As in NumPy, the linear trend is
 * removed first and the sinusoid's coefficients come from a 2x2 system on the detrended
 * cos and sin (the Frisch-Waugh-Lovell theorem); the best frequency is the first maximum
 * of the explained share of variance, refined by a parabola through its neighbours.
 * cos and sin of 2 pi f_k t are not taken per frequency: the grid is evenly spaced, so
 * they follow from those of f_0 and of the step by the angle-addition formulas (a
 * rotation per step; the values differ from direct cos / sin by ~1e-14 on the default
 * grid, ~2e-12 over 2,000 frequencies at angles of thousands of radians).
 *
 * track_cues() is the temporal block of humanpose.cues.estimator.CueEstimator with the
 * arrays of humanpose.cues.state.CueMemory: it appends each tracked person's waving
 * sample (humanpose.cues.waving.wave_signal, body.c) to its ring, fits both hands over the
 * window, keeps the hand with the larger amplitude, holds the wave, runs the looking
 * timer and says who is engaged. Python assigns the ring slots (track ids are strings).
 * The NumPy code is the reference of every definition; thresholds come from Python.
 */
#include "cues.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Thresholds of the fit: WaveConfig, as humanpose.cues.waving.kernel_grid packs them. */
enum { P_MIN_FIT, P_MIN_AMPLITUDE, P_MIN_HZ, P_MAX_HZ, P_MIN_SPAN_S, P_MIN_SAMPLES, P_COUNT };

/* One track's row of CueMemory's int64 state, in CueMemory.TRACK_FIELDS order. */
enum { T_HEAD, T_SIZE, T_WAVE_NS, T_WAVE_SIDE, T_LOOKING, T_LOOKING_SINCE, T_LAST_LOOKING,
       T_FIELDS };

/* Per-frequency sums of one signal (the matrix products of the NumPy code). */
enum { S_C1, S_CT, S_CX, S_S1, S_ST, S_SX, S_CC, S_SS, S_CS, S_COUNT };

typedef struct {
    const double *freqs; /* the grid, Hz (evenly spaced) */
    Py_ssize_t count;
    const double *p;     /* P_* thresholds */
} Grid;

typedef struct {
    int waving;
    double frequency_hz, amplitude, fit;
} Fit;

/* Scratch of one call: per-frequency sums and results, per-sample cos / sin. */
typedef struct {
    double *sums;                  /* S_COUNT x F */
    double *share, *a, *b;         /* F each */
    double *cos0, *sin0, *cosd, *sind; /* T each: cos / sin of 2 pi f_0 t and 2 pi step t */
    double *tc, *resid;            /* T each: one signal's counted samples, then centred */
    double *c, *s, *cd, *sd;       /* T each: and their cos / sin at f_k, of the step */
} Work;

static const Fit NO_FIT = {0, NAN, NAN, NAN};

/* 2 pi as NumPy's 2.0 * np.pi. */
static const double TWO_PI = 2.0 * 3.14159265358979323846;

/* Whether sample j of a signal counts: flagged valid and finite (as NumPy's w). */
static int counts(const unsigned char *valid, const double *t, const double *x, Py_ssize_t j)
{
    return valid[j] && isfinite(x[j]) && isfinite(t[j]);
}

/* Enough valid samples over a long enough span to fit at all. */
static int enough_samples(const double *t, const double *x, const unsigned char *valid,
                          Py_ssize_t samples, const double *p)
{
    Py_ssize_t count = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (Py_ssize_t j = 0; j < samples; ++j) {
        if (!counts(valid, t, x, j))
            continue;
        ++count;
        lo = t[j] < lo ? t[j] : lo;
        hi = t[j] > hi ? t[j] : hi;
    }
    return (double)count >= p[P_MIN_SAMPLES] && hi - lo >= p[P_MIN_SPAN_S];
}

/* cos and sin of 2 pi f_0 t_j and of 2 pi step t_j for the samples some signal uses. */
static void grid_phases(const double *t, const unsigned char *used, Py_ssize_t samples,
                        const Grid *grid, Work *w)
{
    const double first = TWO_PI * grid->freqs[0];
    const double step = grid->count > 1 ? TWO_PI * (grid->freqs[1] - grid->freqs[0]) : 0.0;
    for (Py_ssize_t j = 0; j < samples; ++j) {
        if (!used[j])
            continue;
        w->cos0[j] = cos(first * t[j]);
        w->sin0[j] = sin(first * t[j]);
        w->cosd[j] = cos(step * t[j]);
        w->sind[j] = sin(step * t[j]);
    }
}

/*
 * The S_* sums over the m samples of w (tc, resid, c, s) at one frequency, then c and s
 * turned to the next one (angle addition by cd, sd). One sum per variable: the nine
 * chains run side by side (pairing samples into vectors measured slower).
 */
static void frequency_sums(Work *w, Py_ssize_t m, double *restrict out)
{
    double *restrict c = w->c, *restrict s = w->s;
    const double *restrict tc = w->tc, *restrict r = w->resid;
    const double *restrict cd = w->cd, *restrict sd = w->sd;
    double c1 = 0.0, ct = 0.0, cx = 0.0, s1 = 0.0, st = 0.0, sx = 0.0;
    double cc = 0.0, ss = 0.0, cs = 0.0;
    for (Py_ssize_t j = 0; j < m; ++j) {
        const double cj = c[j], sj = s[j];
        c1 += cj;
        ct += cj * tc[j];
        cx += cj * r[j];
        s1 += sj;
        st += sj * tc[j];
        sx += sj * r[j];
        cc += cj * cj;
        ss += sj * sj;
        cs += cj * sj;
        c[j] = cj * cd[j] - sj * sd[j];
        s[j] = sj * cd[j] + cj * sd[j];
    }
    out[S_C1] = c1;
    out[S_CT] = ct;
    out[S_CX] = cx;
    out[S_S1] = s1;
    out[S_ST] = st;
    out[S_SX] = sx;
    out[S_CC] = cc;
    out[S_SS] = ss;
    out[S_CS] = cs;
}

/* v'u - [v1, vt] L^-1 [u1, ut]^T: the part of a product the linear trend (1, t) leaves;
 * inv is L^-1 of the trend's normal equations, row-major. */
static double project(const double inv[4], double u1, double ut, double v1, double vt)
{
    return v1 * (inv[0] * u1 + inv[1] * ut) + vt * (inv[2] * u1 + inv[3] * ut);
}

/*
 * Fit one signal whose samples passed enough_samples() (cos / sin from grid_phases()).
 * The same algebra as detect_oscillation (sums in sample order instead of NumPy's
 * pairwise ones and BLAS products: equal to rounding).
 */
static Fit fit_signal(const double *t, const double *x, const unsigned char *valid,
                      Py_ssize_t samples, const Grid *grid, Work *w)
{
    const Py_ssize_t nf = grid->count;
    const double *p = grid->p;
    Fit out;
    /* The counted samples side by side: times, signal, cos / sin at f_0 and of the step. */
    Py_ssize_t m = 0;
    double st = 0.0;
    for (Py_ssize_t j = 0; j < samples; ++j) {
        if (!counts(valid, t, x, j))
            continue;
        w->tc[m] = t[j];
        w->resid[m] = x[j];
        w->c[m] = w->cos0[j];
        w->s[m] = w->sin0[j];
        w->cd[m] = w->cosd[j];
        w->sd[m] = w->sind[j];
        st += t[j];
        ++m;
    }
    /* Linear trend alone, time centred on its mean; resid becomes what it leaves. */
    const double sw = (double)m, t0 = st / sw;
    double swt = 0.0, swx = 0.0, swtt = 0.0, swxt = 0.0;
    for (Py_ssize_t j = 0; j < m; ++j) {
        const double tc = w->tc[j] - t0, xj = w->resid[j];
        w->tc[j] = tc;
        swt += tc;
        swx += xj;
        swtt += tc * tc;
        swxt += xj * tc;
    }
    double det = sw * swtt - swt * swt;
    det = fabs(det) > 1e-12 ? det : 1e-12;
    const double a0 = (swtt * swx - swt * swxt) / det;
    const double b0 = (sw * swxt - swt * swx) / det;
    double rss_lin = 0.0;
    for (Py_ssize_t j = 0; j < m; ++j) {
        const double r = w->resid[j] - a0 - b0 * w->tc[j];
        w->resid[j] = r;
        rss_lin += r * r;
    }

    /* Sums of cos and sin against 1, t, the residual and each other, per frequency. */
    double *sums = w->sums;
    for (Py_ssize_t k = 0; k < nf; ++k)
        frequency_sums(w, m, sums + S_COUNT * k);

    /* Remove the projection on (1, t), solve the 2x2 system, explained share. */
    const double inv[4] = {swtt / det, -swt / det, -swt / det, sw / det};
    for (Py_ssize_t k = 0; k < nf; ++k) {
        const double *acc = sums + S_COUNT * k;
        const double ccd = acc[S_CC] - project(inv, acc[S_C1], acc[S_CT], acc[S_C1], acc[S_CT]);
        const double ssd = acc[S_SS] - project(inv, acc[S_S1], acc[S_ST], acc[S_S1], acc[S_ST]);
        const double csd = acc[S_CS] - project(inv, acc[S_S1], acc[S_ST], acc[S_C1], acc[S_CT]);
        const double cx = acc[S_CX], sx = acc[S_SX];
        double det2 = ccd * ssd - csd * csd;
        det2 = fabs(det2) > 1e-12 ? det2 : INFINITY;
        const double a = (ssd * cx - csd * sx) / det2;
        const double b = (ccd * sx - csd * cx) / det2;
        const double rss = rss_lin - (a * cx + b * sx);
        const double share = 1.0 - rss / rss_lin;
        w->share[k] = isfinite(share) ? share : 0.0;
        w->a[k] = a;
        w->b[k] = b;
    }

    /* The first maximum (numpy.argmax), refined between its neighbours. */
    Py_ssize_t best = 0;
    for (Py_ssize_t k = 1; k < nf; ++k)
        best = w->share[k] > w->share[best] ? k : best;
    out.fit = w->share[best];
    out.amplitude = hypot(w->a[best], w->b[best]);
    const double left = w->share[best > 0 ? best - 1 : 0];
    const double right = w->share[best < nf - 1 ? best + 1 : nf - 1];
    const double curve = left - 2.0 * w->share[best] + right;
    double shift = best > 0 && best < nf - 1 && curve < 0 ? 0.5 * (left - right) / curve : 0.0;
    shift = shift < -0.5 ? -0.5 : (shift > 0.5 ? 0.5 : shift);
    const double step = nf > 1 ? grid->freqs[1] - grid->freqs[0] : 0.0;
    out.frequency_hz = grid->freqs[best] + shift * step;
    out.waving = out.fit >= p[P_MIN_FIT] && out.amplitude >= p[P_MIN_AMPLITUDE]
                 && out.frequency_hz >= p[P_MIN_HZ] - 1e-9
                 && out.frequency_hz <= p[P_MAX_HZ] + 1e-9;
    return out;
}

/*
 * Fit the `signals` signals x[h] (valid[h]) that share the sample times t: cos / sin are
 * taken once for all of them, and only where a signal with enough samples needs them.
 */
static void fit_signals(const double *t, const double *const *x,
                        const unsigned char *const *valid, int signals, Py_ssize_t samples,
                        const Grid *grid, Work *w, unsigned char *used, Fit *out)
{
    int any = 0;
    memset(used, 0, (size_t)samples);
    for (int h = 0; h < signals; ++h) {
        if (!enough_samples(t, x[h], valid[h], samples, grid->p))
            continue;
        any = 1;
        for (Py_ssize_t j = 0; j < samples; ++j)
            used[j] |= (unsigned char)counts(valid[h], t, x[h], j);
    }
    if (any)
        grid_phases(t, used, samples, grid, w);
    for (int h = 0; h < signals; ++h) {
        out[h] = any && enough_samples(t, x[h], valid[h], samples, grid->p)
                 ? fit_signal(t, x[h], valid[h], samples, grid, w) : NO_FIT;
    }
}

/* Scratch for `samples` samples and the grid; NULL with MemoryError set on failure. */
static double *work_alloc(Work *w, Py_ssize_t samples, Py_ssize_t nf)
{
    const Py_ssize_t t = samples > 0 ? samples : 1;
    double *block = PyMem_Malloc(sizeof(double) * (size_t)((S_COUNT + 3) * nf + 10 * t));
    if (block == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    w->sums = block;
    w->share = w->sums + S_COUNT * nf;
    w->a = w->share + nf;
    w->b = w->a + nf;
    w->cos0 = w->b + nf;
    w->sin0 = w->cos0 + t;
    w->cosd = w->sin0 + t;
    w->sind = w->cosd + t;
    w->tc = w->sind + t;
    w->resid = w->tc + t;
    w->c = w->resid + t;
    w->s = w->c + t;
    w->cd = w->s + t;
    w->sd = w->cd + t;
    return block;
}

static int check_grid(const Py_buffer *freqs, const Py_buffer *params, Grid *grid)
{
    grid->count = freqs->len / (Py_ssize_t)sizeof(double);
    if (grid->count < 1 || cues_check_buffer(freqs, grid->count, sizeof(double), "freqs") < 0
        || cues_check_buffer(params, P_COUNT, sizeof(double), "params") < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError,
                            "humanpose.cues._kernel: the frequency grid is empty");
        return -1;
    }
    grid->freqs = (const double *)freqs->buf;
    grid->p = (const double *)params->buf;
    return 0;
}

const char cues_oscillation_doc[] =
"oscillation(t_s, x, valid, signals, samples, freqs, params,\n"
"            waving, frequency_hz, amplitude, fit)\n"
"\n"
"humanpose.cues.waving.detect_oscillation of ``signals`` signals of ``samples`` samples:\n"
"times t_s and x (signals, samples) float64, valid (signals, samples) bool; freqs (F,)\n"
"the grid and params the thresholds (humanpose.cues.waving.kernel_grid). Writes waving\n"
"(signals,) bool, frequency_hz, amplitude and fit (signals,) float64 (NaN: not fitted).";

PyObject *cues_oscillation(PyObject *self, PyObject *args)
{
    enum { B_T, B_X, B_VALID, B_FREQS, B_PARAMS, B_WAVING, B_HZ, B_AMP, B_FIT, B_COUNT };
    Py_buffer b[B_COUNT];
    Py_ssize_t m, samples;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*nny*y*w*w*w*w*", &b[B_T], &b[B_X], &b[B_VALID], &m,
                          &samples, &b[B_FREQS], &b[B_PARAMS], &b[B_WAVING], &b[B_HZ],
                          &b[B_AMP], &b[B_FIT]))
        return NULL;
    PyObject *result = NULL;
    double *block = NULL;
    unsigned char *used = NULL;
    Grid grid;
    Work w;
    if (m < 0 || samples < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "humanpose.cues._kernel.oscillation: negative signals / samples");
        goto done;
    }
    if (cues_check_buffer(&b[B_T], m * samples, sizeof(double), "t_s") < 0
        || cues_check_buffer(&b[B_X], m * samples, sizeof(double), "x") < 0
        || cues_check_buffer(&b[B_VALID], m * samples, 1, "valid") < 0
        || check_grid(&b[B_FREQS], &b[B_PARAMS], &grid) < 0
        || cues_check_buffer(&b[B_WAVING], m, 1, "waving") < 0
        || cues_check_buffer(&b[B_HZ], m, sizeof(double), "frequency_hz") < 0
        || cues_check_buffer(&b[B_AMP], m, sizeof(double), "amplitude") < 0
        || cues_check_buffer(&b[B_FIT], m, sizeof(double), "fit") < 0)
        goto done;
    block = work_alloc(&w, samples, grid.count);
    used = PyMem_Malloc((size_t)(samples > 0 ? samples : 1));
    if (block == NULL || used == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const double *t = (const double *)b[B_T].buf;
    const double *x = (const double *)b[B_X].buf;
    const unsigned char *valid = (const unsigned char *)b[B_VALID].buf;
    unsigned char *waving = (unsigned char *)b[B_WAVING].buf;
    double *hz = (double *)b[B_HZ].buf, *amp = (double *)b[B_AMP].buf;
    double *fit = (double *)b[B_FIT].buf;
    for (Py_ssize_t i = 0; i < m; ++i) {
        const double *xi = x + i * samples;
        const unsigned char *vi = valid + i * samples;
        Fit one;
        fit_signals(t + i * samples, &xi, &vi, 1, samples, &grid, &w, used, &one);
        waving[i] = (unsigned char)one.waving;
        hz[i] = one.frequency_hz;
        amp[i] = one.amplitude;
        fit[i] = one.fit;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_Free(block);
    PyMem_Free(used);
    for (int i = 0; i < B_COUNT; ++i)
        PyBuffer_Release(&b[i]);
    return result;
}

/* The samples of ring `slot` not older than since_ns, oldest first, times relative to
 * now_ns in seconds (CueMemory.windows); returns their number. */
static Py_ssize_t ring_window(const int64_t *stamps, const double *ring_x,
                              const unsigned char *ring_valid, const int64_t *track,
                              Py_ssize_t capacity, int64_t since_ns, int64_t now_ns,
                              double *t, double *x[2], unsigned char *valid[2])
{
    const int64_t head = track[T_HEAD], size = track[T_SIZE];
    Py_ssize_t count = 0;
    while (count < size && stamps[(head - 1 - count + capacity) % capacity] >= since_ns)
        ++count;
    for (Py_ssize_t j = 0; j < count; ++j) {
        const Py_ssize_t at = (Py_ssize_t)((head - count + j + capacity) % capacity);
        t[j] = (double)(stamps[at] - now_ns) / 1e9;
        for (int h = 0; h < 2; ++h) {
            x[h][j] = ring_x[h * capacity + at];
            valid[h][j] = ring_valid[h * capacity + at];
        }
    }
    return count;
}

/* The SIDE_* codes of humanpose.cues.types. */
typedef struct {
    unsigned char none, left, right;
} Sides;

typedef struct {
    int waving;
    unsigned char hand; /* SIDE_* */
    double frequency_hz;
} Wave;

/* A person's wave from the fits of both hands: the waving hand of larger amplitude
 * (the left one on a tie, as numpy.argmax). */
static Wave waving_hand(const Fit fits[2], const Sides *sides)
{
    double amp[2];
    for (int h = 0; h < 2; ++h) {
        const double a = fits[h].amplitude; /* numpy.nan_to_num, then -1 where not waving */
        amp[h] = !fits[h].waving ? -1.0 : (isnan(a) ? 0.0 : (isinf(a) ? DBL_MAX : a));
    }
    const int side = amp[1] > amp[0] ? 1 : 0;
    Wave wave = {fits[0].waving || fits[1].waving, sides->none, NAN};
    if (wave.waving) {
        wave.hand = side == 0 ? sides->left : sides->right;
        wave.frequency_hz = fits[side].frequency_hz;
    }
    return wave;
}

/* Remember a detected wave; without one, keep the last for hold_ns (CueMemory._hold_waves). */
static void hold_wave(int64_t *track, double *held_hz, int64_t now_ns, int64_t hold_ns,
                      unsigned char side_none, Wave *wave)
{
    if (wave->waving) {
        track[T_WAVE_NS] = now_ns;
        track[T_WAVE_SIDE] = wave->hand;
        *held_hz = wave->frequency_hz;
    } else if (track[T_WAVE_SIDE] != side_none && now_ns - track[T_WAVE_NS] <= hold_ns) {
        wave->waving = 1;
        wave->hand = (unsigned char)track[T_WAVE_SIDE];
        wave->frequency_hz = *held_hz;
    }
}

/* The looking timer (CueMemory._looking_times): seconds looked at the camera, a look away
 * up to grace_ns keeping it running. */
static double looking_time(int64_t *track, int looking, int64_t now_ns, int64_t grace_ns)
{
    const int away_too_long = now_ns - track[T_LAST_LOOKING] > grace_ns;
    if (looking) {
        if (!track[T_LOOKING] || away_too_long) {
            track[T_LOOKING] = 1;
            track[T_LOOKING_SINCE] = now_ns;
        }
        track[T_LAST_LOOKING] = now_ns;
    } else if (track[T_LOOKING] && away_too_long) {
        track[T_LOOKING] = 0;
    }
    return track[T_LOOKING] ? (double)(now_ns - track[T_LOOKING_SINCE]) / 1e9 : 0.0;
}

const char cues_track_cues_doc[] =
"track_cues(wave_x, wave_ok, slots, looking, distance, stamp_ns, since_ns, hold_ns,\n"
"           grace_ns, engaged_min_s, engaged_max_m, sides, ring_stamps, ring_x,\n"
"           ring_valid, track, wave_hz, freqs, params, waving, waving_hand, waving_hz,\n"
"           duration, engaged)\n"
"\n"
"The temporal cues of one image's N people (CueMemory.observe). wave_x (N, 2) float64\n"
"and wave_ok (N, 2) bool, the waving signal of the left / right hand; slots (N,) int64\n"
"ring of each person (-1: no track); looking (N,) bool; distance (N,) float64; sides\n"
"(none, left, right) codes; times in ns. The memory (updated in place):\n"
"ring_stamps (S, C) int64, ring_x (S, 2, C) float64, ring_valid (S, 2, C) bool, track\n"
"(S, 7) int64 (CueMemory.TRACK_FIELDS), wave_hz (S,) float64. Writes waving (N,) bool,\n"
"waving_hand (N,) uint8, waving_hz, duration (N,) float64 and engaged (N,) bool.";

PyObject *cues_track_cues(PyObject *self, PyObject *args)
{
    enum { B_WAVE_X, B_WAVE_OK, B_SLOTS, B_LOOKING, B_DISTANCE,
           B_STAMPS, B_RX, B_RVALID, B_TRACK, B_WAVE_HZ, B_FREQS, B_PARAMS, B_WAVING,
           B_HAND, B_HZ, B_DURATION, B_ENGAGED, B_COUNT };
    Py_buffer b[B_COUNT];
    double engaged_min_s, engaged_max_m;
    long long now_ns, since_ns, hold_ns, grace_ns;
    unsigned char side_none, side_left, side_right;
    Sides sides;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*LLLLdd(bbb)w*w*w*w*w*y*y*w*w*w*w*w*", &b[B_WAVE_X],
                          &b[B_WAVE_OK], &b[B_SLOTS], &b[B_LOOKING], &b[B_DISTANCE], &now_ns,
                          &since_ns, &hold_ns, &grace_ns, &engaged_min_s, &engaged_max_m,
                          &side_none, &side_left, &side_right, &b[B_STAMPS], &b[B_RX],
                          &b[B_RVALID], &b[B_TRACK], &b[B_WAVE_HZ], &b[B_FREQS],
                          &b[B_PARAMS], &b[B_WAVING], &b[B_HAND], &b[B_HZ], &b[B_DURATION],
                          &b[B_ENGAGED]))
        return NULL;
    PyObject *result = NULL;
    double *block = NULL, *samples_t = NULL;
    unsigned char *samples_valid = NULL;
    Grid grid;
    Work w;
    const Py_ssize_t n = b[B_SLOTS].len / (Py_ssize_t)sizeof(int64_t);
    const Py_ssize_t slots_count = b[B_WAVE_HZ].len / (Py_ssize_t)sizeof(double);
    const Py_ssize_t capacity = slots_count > 0
        ? b[B_STAMPS].len / (slots_count * (Py_ssize_t)sizeof(int64_t)) : 0;
    if (cues_check_buffer(&b[B_SLOTS], n, sizeof(int64_t), "slots") < 0
        || cues_check_buffer(&b[B_WAVE_X], n * 2, sizeof(double), "wave_x") < 0
        || cues_check_buffer(&b[B_WAVE_OK], n * 2, 1, "wave_ok") < 0
        || cues_check_buffer(&b[B_LOOKING], n, 1, "looking") < 0
        || cues_check_buffer(&b[B_DISTANCE], n, sizeof(double), "distance") < 0
        || cues_check_buffer(&b[B_STAMPS], slots_count * capacity, sizeof(int64_t),
                             "ring_stamps") < 0
        || cues_check_buffer(&b[B_RX], slots_count * 2 * capacity, sizeof(double),
                             "ring_x") < 0
        || cues_check_buffer(&b[B_RVALID], slots_count * 2 * capacity, 1, "ring_valid") < 0
        || cues_check_buffer(&b[B_TRACK], slots_count * T_FIELDS, sizeof(int64_t),
                             "track") < 0
        || check_grid(&b[B_FREQS], &b[B_PARAMS], &grid) < 0
        || cues_check_buffer(&b[B_WAVING], n, 1, "waving") < 0
        || cues_check_buffer(&b[B_HAND], n, 1, "waving_hand") < 0
        || cues_check_buffer(&b[B_HZ], n, sizeof(double), "waving_hz") < 0
        || cues_check_buffer(&b[B_DURATION], n, sizeof(double), "duration") < 0
        || cues_check_buffer(&b[B_ENGAGED], n, 1, "engaged") < 0)
        goto done;
    const int64_t *slots = (const int64_t *)b[B_SLOTS].buf;
    const int64_t *tracks_in = (const int64_t *)b[B_TRACK].buf;
    for (Py_ssize_t i = 0; i < n; ++i) {
        if (slots[i] < -1 || slots[i] >= slots_count) {
            PyErr_Format(PyExc_ValueError,
                         "humanpose.cues._kernel.track_cues: slot %lld of person %zd is not "
                         "in [-1, %zd)", (long long)slots[i], i, slots_count);
            goto done;
        }
        if (slots[i] < 0)
            continue;
        /* A write position or fill outside the ring (or rings of no samples at all)
         * would read and write past it. */
        const int64_t *row = tracks_in + slots[i] * T_FIELDS;
        if (row[T_HEAD] < 0 || row[T_HEAD] >= capacity || row[T_SIZE] < 0
            || row[T_SIZE] > capacity) {
            PyErr_Format(PyExc_ValueError,
                         "humanpose.cues._kernel.track_cues: ring %lld has head %lld and "
                         "size %lld, capacity %zd", (long long)slots[i],
                         (long long)row[T_HEAD], (long long)row[T_SIZE], capacity);
            goto done;
        }
    }
    block = work_alloc(&w, capacity, grid.count);
    samples_t = PyMem_Malloc(sizeof(double) * (size_t)(3 * (capacity > 0 ? capacity : 1)));
    samples_valid = PyMem_Malloc((size_t)(3 * (capacity > 0 ? capacity : 1)));
    if (block == NULL || samples_t == NULL || samples_valid == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const double *wave_x = (const double *)b[B_WAVE_X].buf;
    const unsigned char *wave_ok = (const unsigned char *)b[B_WAVE_OK].buf;
    const unsigned char *looking = (const unsigned char *)b[B_LOOKING].buf;
    const double *distance = (const double *)b[B_DISTANCE].buf;
    int64_t *stamps = (int64_t *)b[B_STAMPS].buf;
    double *ring_x = (double *)b[B_RX].buf;
    unsigned char *ring_valid = (unsigned char *)b[B_RVALID].buf;
    int64_t *tracks = (int64_t *)b[B_TRACK].buf;
    double *wave_hz = (double *)b[B_WAVE_HZ].buf;
    unsigned char *waving = (unsigned char *)b[B_WAVING].buf;
    unsigned char *hand = (unsigned char *)b[B_HAND].buf;
    double *hz = (double *)b[B_HZ].buf, *duration = (double *)b[B_DURATION].buf;
    unsigned char *engaged = (unsigned char *)b[B_ENGAGED].buf;
    sides.none = side_none;
    sides.left = side_left;
    sides.right = side_right;

    /* Every person's sample first (an id seen twice in one image, or the same image
     * twice, adds one sample: the newest stamp is not older than this one). */
    for (Py_ssize_t i = 0; i < n; ++i) {
        const int64_t s = slots[i];
        if (s < 0)
            continue;
        int64_t *track = tracks + s * T_FIELDS;
        int64_t *ring = stamps + s * capacity;
        if (track[T_SIZE] > 0 && ring[(track[T_HEAD] - 1 + capacity) % capacity] >= now_ns)
            continue;
        const Py_ssize_t at = (Py_ssize_t)track[T_HEAD];
        ring[at] = now_ns;
        for (int h = 0; h < 2; ++h) {
            ring_x[(s * 2 + h) * capacity + at] = wave_x[2 * i + h];
            ring_valid[(s * 2 + h) * capacity + at] = wave_ok[2 * i + h] != 0;
        }
        track[T_HEAD] = (track[T_HEAD] + 1) % capacity;
        track[T_SIZE] = track[T_SIZE] < capacity ? track[T_SIZE] + 1 : capacity;
    }

    double *t = samples_t, *x[2] = {samples_t + capacity, samples_t + 2 * capacity};
    unsigned char *used = samples_valid;
    unsigned char *valid[2] = {samples_valid + capacity, samples_valid + 2 * capacity};
    for (Py_ssize_t i = 0; i < n; ++i) {
        const int64_t s = slots[i];
        if (s < 0) { /* no track, no history */
            waving[i] = 0;
            hand[i] = side_none;
            hz[i] = NAN;
            duration[i] = NAN;
            engaged[i] = 0;
            continue;
        }
        int64_t *track = tracks + s * T_FIELDS;
        const Py_ssize_t count = ring_window(stamps + s * capacity, ring_x + s * 2 * capacity,
                                             ring_valid + s * 2 * capacity, track, capacity,
                                             since_ns, now_ns, t, x, valid);
        Fit fits[2];
        fit_signals(t, (const double *const *)x, (const unsigned char *const *)valid, 2, count,
                    &grid, &w, used, fits);

        Wave wave = waving_hand(fits, &sides);
        hold_wave(track, &wave_hz[s], now_ns, hold_ns, side_none, &wave);
        waving[i] = (unsigned char)wave.waving;
        hand[i] = wave.hand;
        hz[i] = wave.frequency_hz;
        duration[i] = looking_time(track, looking[i], now_ns, grace_ns);
        engaged[i] = duration[i] >= engaged_min_s && !(distance[i] > engaged_max_m);
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_Free(block);
    PyMem_Free(samples_t);
    PyMem_Free(samples_valid);
    for (int i = 0; i < B_COUNT; ++i)
        PyBuffer_Release(&b[i]);
    return result;
}
