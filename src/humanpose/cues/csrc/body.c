/*
 * The single-image body cues of N people, person by person: everything the cue estimator
 * computes per image except the head pose and the temporal cues.
 *
 *   3D position     per-axis median of the valid 3D head keypoints, and of the head,
 *                   shoulders and hips (the body; its norm is the distance)
 *                   -> humanpose.cues.body.robust_position
 *   scale           torso length (shoulder centre to hip centre), else 1.3 x the shoulder
 *                   width -> humanpose.cues.body.person_scale
 *   raised hands    wrist above its shoulder by a fraction of the torso
 *                   -> humanpose.cues.hands.hands_raised
 *   hand states     open / fist / pointing from tip-to-knuckle distance ratios
 *                   -> humanpose.cues.hands.hand_states
 *   pointing        arm angles (3D where the arm has it), soft ramps, the best arm, the
 *                   ray's joints, the line fitted through them in the image and in 3D,
 *                   where the 3D ray meets the plane
 *                   -> humanpose.cues.pointing.estimate_pointing
 *   waving signal   the wrist's sideways offset from its elbow in torso lengths, where
 *                   the forearm is up -> humanpose.cues.waving.wave_signal
 *
 * The NumPy functions named above are the reference and their docstrings the definitions;
 * this file repeats their arithmetic in the same order (sums from the first term on, as
 * NumPy reduces these short axes), so that results agree to float rounding and decisions
 * (booleans, states, sides) agree. The NumPy details kept on purpose: confidences are
 * compared in float32 (a Python float threshold meets a float32 array), comparisons with
 * NaN are false, the ramps' fmax/fmin drop NaN, argmax takes the first maximum, and the
 * 3D line direction is the principal axis of the centred points (NumPy: the first right
 * singular vector; here: the top eigenvector of the 3x3 scatter by Jacobi rotations,
 * the same axis to rounding, oriented by the same sign rule).
 */
#include "cues.h"

#include <math.h>
#include <stdint.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* no fused multiply-adds: NumPy rounds every product */
#endif

/* Values of humanpose.cues.types (the kernel-vs-NumPy tests compare them). */
enum { HAND_UNKNOWN = 0, HAND_OPEN = 1, HAND_FIST = 2, HAND_POINTING = 3 };
enum { SIDE_NONE = 0, SIDE_LEFT = 1, SIDE_RIGHT = 2 };

#define HAND_POINTS 21 /* keypoints of one hand, root (wrist) first */
#define INDEX_KNUCKLE 5
#define INDEX_TIP 8
#define LINE_POINTS 5 /* joints of a pointing ray's line fit */
#define MAX_ANCHORS 64
#define DEG_PER_RAD (180.0 / 3.141592653589793238462643383279502884)

/* Keypoint ids of the skeleton; index 0 = the person's left, 1 = right. */
typedef struct {
    int32_t shoulder[2], elbow[2], wrist[2], hip[2];
    const int32_t *anchors; /* head keypoints first, then shoulders and hips */
    Py_ssize_t n_anchors, n_head;
    const int32_t *hands; /* [side * HAND_POINTS + j]; NULL without hand keypoints */
} skeleton_ids;

/* Thresholds, in the order of the entry point's ``settings``. */
typedef struct {
    float threshold; /* float32, as NumPy compares the float32 confidences */
    double raised_margin, extended_ratio, curled_ratio;
    double straight_deg[2], lift_deg[2], min_confidence;
    double normal[3], plane_distance;
} body_settings;

/* One person's keypoints; kp3 and conf3 NULL without 3D. */
typedef struct {
    const float *kp, *conf, *kp3, *conf3;
} person;

/* The outputs of the N people, C order, shapes as in humanpose.cues.image_cues. */
typedef struct {
    double *head_position, *distance, *scale;
    uint8_t *raised, *hand_state;
    uint8_t *pointing, *hand;
    double *confidence, *arm_confidence, *origin_px, *direction_px, *origin_m, *direction,
        *target_m;
    double *wave_x;
    uint8_t *wave_ok;
} body_outputs;

static int seen(const person *p, int32_t id, float threshold)
{
    return p->conf[id] >= threshold;
}

/* The 3D keypoint counts: positive confidence, all three coordinates finite. */
static int valid_3d(const person *p, int32_t id)
{
    const float *v = p->kp3 + 3 * (Py_ssize_t)id;
    return p->conf3[id] > 0.0f && isfinite(v[0]) && isfinite(v[1]) && isfinite(v[2]);
}

static void point_2d(const person *p, int32_t id, double out[2])
{
    out[0] = p->kp[2 * (Py_ssize_t)id];
    out[1] = p->kp[2 * (Py_ssize_t)id + 1];
}

static void point_3d(const person *p, int32_t id, double out[3])
{
    for (int i = 0; i < 3; ++i)
        out[i] = p->kp3[3 * (Py_ssize_t)id + i];
}

static double dot(const double *a, const double *b, int dims)
{
    double sum = a[0] * b[0];
    for (int i = 1; i < dims; ++i)
        sum += a[i] * b[i];
    return sum;
}

static void fill_nan(double *v, int count)
{
    for (int i = 0; i < count; ++i)
        v[i] = NAN;
}

/* ---- 3D position (body.robust_position) --------------------------------------------- */

/* Median of values[0..count) (count > 0), sorted in place: the mean of the middle two. */
static double median(double *values, Py_ssize_t count)
{
    for (Py_ssize_t i = 1; i < count; ++i) { /* insertion sort: a handful of values */
        double v = values[i];
        Py_ssize_t j = i;
        for (; j > 0 && values[j - 1] > v; --j)
            values[j] = values[j - 1];
        values[j] = v;
    }
    return 0.5 * (values[(count - 1) / 2] + values[count / 2]);
}

/* Per-axis median of the valid 3D keypoints ids[0..count); NaN if none is valid. */
static void robust_position(const person *p, const int32_t *ids, Py_ssize_t count,
                            double out[3])
{
    double values[3][MAX_ANCHORS];
    Py_ssize_t valid = 0;
    for (Py_ssize_t j = 0; j < count; ++j) {
        if (!valid_3d(p, ids[j]))
            continue;
        for (int axis = 0; axis < 3; ++axis)
            values[axis][valid] = p->kp3[3 * (Py_ssize_t)ids[j] + axis];
        ++valid;
    }
    for (int axis = 0; axis < 3; ++axis)
        out[axis] = valid > 0 ? median(values[axis], valid) : NAN;
}

/* ---- scale, raised hands, waving signal (body, hands, waving) ----------------------- */

/* Torso length in pixels; 1.3 x the shoulder width without both hips; NaN without both
 * shoulders. */
static double person_scale(const person *p, const skeleton_ids *ids, float threshold)
{
    const int shoulders_ok = seen(p, ids->shoulder[0], threshold)
                             && seen(p, ids->shoulder[1], threshold);
    const int hips_ok = seen(p, ids->hip[0], threshold) && seen(p, ids->hip[1], threshold);
    double s0[2], s1[2], h0[2], h1[2], centre[2], across[2];
    point_2d(p, ids->shoulder[0], s0);
    point_2d(p, ids->shoulder[1], s1);
    point_2d(p, ids->hip[0], h0);
    point_2d(p, ids->hip[1], h1);
    for (int i = 0; i < 2; ++i) {
        centre[i] = 0.5 * (s0[i] + s1[i]) - 0.5 * (h0[i] + h1[i]);
        across[i] = s0[i] - s1[i];
    }
    if (shoulders_ok && hips_ok)
        return sqrt(dot(centre, centre, 2));
    return shoulders_ok ? 1.3 * sqrt(dot(across, across, 2)) : NAN;
}

/* The wrist of ``side`` above its shoulder by ``margin * scale`` (image y grows down). */
static int hand_raised(const person *p, const skeleton_ids *ids, int side, double scale,
                       const body_settings *cfg)
{
    const int32_t s = ids->shoulder[side], w = ids->wrist[side];
    const double height = (double)p->kp[2 * (Py_ssize_t)s + 1] - (double)p->kp[2 * (Py_ssize_t)w + 1];
    return seen(p, w, cfg->threshold) && seen(p, s, cfg->threshold)
           && height > cfg->raised_margin * scale;
}

/* The wrist's horizontal offset from its elbow in torso lengths, and whether it counts
 * (both seen, the wrist above the elbow, finite). */
static double wave_signal(const person *p, const skeleton_ids *ids, int side, double scale,
                          float threshold, uint8_t *ok)
{
    double elbow[2], wrist[2];
    point_2d(p, ids->elbow[side], elbow);
    point_2d(p, ids->wrist[side], wrist);
    const double x = (wrist[0] - elbow[0]) / scale;
    *ok = (uint8_t)(seen(p, ids->elbow[side], threshold) && seen(p, ids->wrist[side], threshold)
                    && wrist[1] < elbow[1] && isfinite(x));
    return x;
}

/* ---- hand states (hands.hand_states) ------------------------------------------------ */

/* HAND_* of one hand from |tip - wrist| / |knuckle - wrist| of its four long fingers. */
static uint8_t hand_state(const person *p, const int32_t *hand, const body_settings *cfg)
{
    const float threshold = cfg->threshold;
    const int root_ok = seen(p, hand[0], threshold);
    double root[2];
    point_2d(p, hand[0], root);
    int known[4], extended[4], curled[4];
    for (int f = 0; f < 4; ++f) { /* index, middle, ring, pinky */
        const int32_t knuckle = hand[INDEX_KNUCKLE + 4 * f], tip = hand[INDEX_TIP + 4 * f];
        double to_tip[2], to_knuckle[2];
        point_2d(p, tip, to_tip);
        point_2d(p, knuckle, to_knuckle);
        for (int i = 0; i < 2; ++i) {
            to_tip[i] -= root[i];
            to_knuckle[i] -= root[i];
        }
        const double ratio = sqrt(dot(to_tip, to_tip, 2)) / sqrt(dot(to_knuckle, to_knuckle, 2));
        known[f] = root_ok && seen(p, knuckle, threshold) && seen(p, tip, threshold)
                   && isfinite(ratio);
        extended[f] = known[f] && ratio >= cfg->extended_ratio;
        curled[f] = known[f] && ratio <= cfg->curled_ratio;
    }
    const int others_extended = extended[1] + extended[2] + extended[3];
    const int others_curled = curled[1] + curled[2] + curled[3];
    const int n_extended = extended[0] + others_extended;
    uint8_t state = HAND_UNKNOWN;
    if (n_extended >= 3 && extended[0])
        state = HAND_OPEN;
    if (n_extended == 0 && curled[0] + others_curled >= 3 && known[0])
        state = HAND_FIST;
    if (extended[0] && others_extended == 0 && others_curled >= 2)
        state = HAND_POINTING;
    return state;
}

/* ---- pointing (pointing.estimate_pointing) ------------------------------------------ */

/* Linear ramp from 0 at ``low`` to 1 at ``high``; NaN scores 0 (fmax drops it). */
static double ramp(double x, const double range[2])
{
    return fmin(fmax((x - range[0]) / (range[1] - range[0]), 0.0), 1.0);
}

/* Angle between two vectors of ``dims`` components, degrees; NaN where either is zero
 * or NaN. */
static double angle_deg(const double *a, const double *b, int dims)
{
    double cosine = dot(a, b, dims) / sqrt(dot(a, a, dims) * dot(b, b, dims));
    if (cosine < -1.0)
        cosine = -1.0;
    else if (cosine > 1.0)
        cosine = 1.0;
    return acos(cosine) * DEG_PER_RAD;
}

/* Elbow angle, upper-arm lift and forearm lift of both arms, degrees, from the joints
 * (dims = 2: image, 3: metres); torso-down from the hips where both are known, else
 * ``down_default``. */
static void arm_angles(double shoulder[2][3], double elbow[2][3],
                       double wrist[2][3], double hip[2][3], int hips_ok,
                       const double *down_default, int dims, double bend[2], double lift[2],
                       double fore_lift[2])
{
    double down[3];
    int finite = 1;
    for (int i = 0; i < dims; ++i) {
        down[i] = 0.5 * (hip[0][i] + hip[1][i]) - 0.5 * (shoulder[0][i] + shoulder[1][i]);
        finite = finite && isfinite(down[i]);
    }
    if (!(hips_ok && finite))
        for (int i = 0; i < dims; ++i)
            down[i] = down_default[i];
    for (int side = 0; side < 2; ++side) {
        double upper[3], back[3], fore[3];
        for (int i = 0; i < dims; ++i) {
            upper[i] = elbow[side][i] - shoulder[side][i];
            back[i] = -upper[i];
            fore[i] = wrist[side][i] - elbow[side][i];
        }
        bend[side] = angle_deg(back, fore, dims);
        lift[side] = angle_deg(upper, down, dims);
        fore_lift[side] = angle_deg(fore, down, dims);
    }
}

/* Joints of both arms and the hips, in the image (dims 2) or in metres (dims 3). */
static void arm_joints(const person *p, const skeleton_ids *ids, int dims,
                       double shoulder[2][3], double elbow[2][3], double wrist[2][3],
                       double hip[2][3])
{
    void (*point)(const person *, int32_t, double *) = dims == 2 ? point_2d : point_3d;
    for (int side = 0; side < 2; ++side) {
        point(p, ids->shoulder[side], shoulder[side]);
        point(p, ids->elbow[side], elbow[side]);
        point(p, ids->wrist[side], wrist[side]);
        point(p, ids->hip[side], hip[side]);
    }
}

/* Sign rule of the fitted axes: towards the last point from the first; a perpendicular
 * axis is kept, a NaN one stays NaN. */
static void orient_axis(double *axis, const double *first, const double *last, int dims)
{
    double towards[3];
    for (int i = 0; i < dims; ++i)
        towards[i] = last[i] - first[i];
    const double along = dot(axis, towards, dims);
    const double sign = along > 0.0 ? 1.0 : along < 0.0 ? -1.0 : along == 0.0 ? 1.0 : NAN;
    for (int i = 0; i < dims; ++i)
        axis[i] *= sign;
}

/* Centre ``count`` points of ``dims`` components on their mean, in place. */
static void centre_points(double points[][3], int count, int dims)
{
    for (int i = 0; i < dims; ++i) {
        double sum = points[0][i];
        for (int j = 1; j < count; ++j)
            sum += points[j][i];
        const double mean = sum / count;
        for (int j = 0; j < count; ++j)
            points[j][i] -= mean;
    }
}

/* Unit direction of the line through image points (principal axis of the 2x2 scatter in
 * closed form), oriented from the first point to the last. */
static void fit_line_2d(double points[LINE_POINTS][3], double out[2])
{
    double centred[LINE_POINTS][3];
    for (int j = 0; j < LINE_POINTS; ++j)
        for (int i = 0; i < 2; ++i)
            centred[j][i] = points[j][i];
    centre_points(centred, LINE_POINTS, 2);
    double sxx = centred[0][0] * centred[0][0], syy = centred[0][1] * centred[0][1];
    double sxy = centred[0][0] * centred[0][1];
    for (int j = 1; j < LINE_POINTS; ++j) {
        sxx += centred[j][0] * centred[j][0];
        syy += centred[j][1] * centred[j][1];
        sxy += centred[j][0] * centred[j][1];
    }
    const double half = 0.5 * atan2(2.0 * sxy, sxx - syy);
    out[0] = cos(half);
    out[1] = sin(half);
    orient_axis(out, points[0], points[LINE_POINTS - 1], 2);
}

/* One Jacobi rotation of the symmetric 3x3 ``a`` zeroing a[p][q]; ``v`` collects the
 * rotations (its columns become the eigenvectors). */
static void jacobi_rotate(double a[3][3], double v[3][3], int p, int q)
{
    const double apq = a[p][q];
    const double theta = (a[q][q] - a[p][p]) / (2.0 * apq);
    /* The smaller root of t^2 + 2 theta t - 1 = 0: rotation angle below 45 degrees. */
    double t = fabs(theta) > 1e150 ? 0.5 / fabs(theta)
                                   : 1.0 / (fabs(theta) + sqrt(theta * theta + 1.0));
    if (theta < 0.0)
        t = -t;
    const double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
    for (int k = 0; k < 3; ++k) { /* a <- a J */
        const double akp = a[k][p], akq = a[k][q];
        a[k][p] = c * akp - s * akq;
        a[k][q] = s * akp + c * akq;
    }
    for (int k = 0; k < 3; ++k) { /* a <- J^T a */
        const double apk = a[p][k], aqk = a[q][k];
        a[p][k] = c * apk - s * aqk;
        a[q][k] = s * apk + c * aqk;
    }
    a[p][q] = a[q][p] = 0.0;
    for (int k = 0; k < 3; ++k) {
        const double vkp = v[k][p], vkq = v[k][q];
        v[k][p] = c * vkp - s * vkq;
        v[k][q] = s * vkp + c * vkq;
    }
}

/* Unit eigenvector of the largest eigenvalue of the symmetric 3x3 ``a`` (cyclic Jacobi;
 * a zero matrix gives (1, 0, 0), as LAPACK's SVD of zero points does). */
static void top_eigenvector(double a[3][3], double out[3])
{
    static const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
    double v[3][3] = {{1.0, 0.0, 0.0}, {0.0, 1.0, 0.0}, {0.0, 0.0, 1.0}};
    for (int sweep = 0; sweep < 50; ++sweep) {
        int rotated = 0;
        for (int k = 0; k < 3; ++k) {
            const int p = pairs[k][0], q = pairs[k][1];
            if (a[p][q] == 0.0)
                continue;
            /* Negligible next to the diagonal: further rotations change nothing. */
            if (fabs(a[p][q]) <= 1e-18 * (fabs(a[p][p]) + fabs(a[q][q]))) {
                a[p][q] = a[q][p] = 0.0;
                continue;
            }
            jacobi_rotate(a, v, p, q);
            rotated = 1;
        }
        if (!rotated)
            break;
    }
    int best = 0;
    for (int i = 1; i < 3; ++i)
        if (a[i][i] > a[best][best])
            best = i;
    for (int i = 0; i < 3; ++i)
        out[i] = v[i][best];
}

/* Unit direction of the line through 3D points (principal axis of the centred points),
 * oriented from the first point to the last. */
static void fit_line_3d(double points[LINE_POINTS][3], double out[3])
{
    double centred[LINE_POINTS][3], scatter[3][3];
    for (int j = 0; j < LINE_POINTS; ++j)
        for (int i = 0; i < 3; ++i)
            centred[j][i] = points[j][i];
    centre_points(centred, LINE_POINTS, 3);
    for (int r = 0; r < 3; ++r)
        for (int c = r; c < 3; ++c) {
            double sum = centred[0][r] * centred[0][c];
            for (int j = 1; j < LINE_POINTS; ++j)
                sum += centred[j][r] * centred[j][c];
            scatter[r][c] = scatter[c][r] = sum;
        }
    top_eigenvector(scatter, out);
    orient_axis(out, points[0], points[LINE_POINTS - 1], 3);
}

/* Where the ray meets the plane normal . x + distance = 0 ahead of its origin; NaN if it
 * never does (parallel, or the plane behind). */
static void plane_intersection(const double origin[3], const double direction[3],
                               const body_settings *cfg, double out[3])
{
    const double denom = dot(direction, cfg->normal, 3);
    const double t = -(dot(origin, cfg->normal, 3) + cfg->plane_distance) / denom;
    const int hit = isfinite(t) && t > 0.0 && fabs(denom) > 1e-6;
    for (int i = 0; i < 3; ++i)
        out[i] = hit ? origin[i] + t * direction[i] : NAN;
}

/* Confidence of both arms pointing, and their straightness. */
static void arm_confidence(const person *p, const skeleton_ids *ids, const uint8_t state[2],
                           const body_settings *cfg, double confidence[2], double straight[2])
{
    static const double down_2d[2] = {0.0, 1.0}, down_3d[3] = {0.0, 1.0, 0.0};
    const float threshold = cfg->threshold;
    double shoulder[2][3], elbow[2][3], wrist[2][3], hip[2][3];
    double bend[2], lift[2], fore_lift[2];
    arm_joints(p, ids, 2, shoulder, elbow, wrist, hip);
    arm_angles(shoulder, elbow, wrist, hip,
               seen(p, ids->hip[0], threshold) && seen(p, ids->hip[1], threshold), down_2d,
               2, bend, lift, fore_lift);
    if (p->kp3 != NULL) { /* foreshortening cannot bend a 3D arm: 3D angles where known */
        double bend3[2], lift3[2], fore_lift3[2];
        arm_joints(p, ids, 3, shoulder, elbow, wrist, hip);
        arm_angles(shoulder, elbow, wrist, hip,
                   valid_3d(p, ids->hip[0]) && valid_3d(p, ids->hip[1]), down_3d, 3, bend3,
                   lift3, fore_lift3);
        for (int side = 0; side < 2; ++side)
            if (valid_3d(p, ids->shoulder[side]) && valid_3d(p, ids->elbow[side])
                && valid_3d(p, ids->wrist[side])) {
                bend[side] = bend3[side];
                lift[side] = lift3[side];
                fore_lift[side] = fore_lift3[side];
            }
    }
    for (int side = 0; side < 2; ++side) {
        straight[side] = ramp(bend[side], cfg->straight_deg);
        const double finger = state[side] == HAND_POINTING ? 1.0 : 0.0;
        const double by_arm = straight[side] * ramp(lift[side], cfg->lift_deg);
        const double by_finger = finger * ramp(fmax(lift[side], fore_lift[side]), cfg->lift_deg);
        const int arm_seen = seen(p, ids->shoulder[side], threshold)
                             && seen(p, ids->elbow[side], threshold)
                             && seen(p, ids->wrist[side], threshold);
        confidence[side] = arm_seen ? (by_arm >= by_finger ? by_arm : by_finger) : 0.0;
    }
}

/* The keypoint the ray starts at and the joints its line is fitted through. */
static int32_t ray_joints(const person *p, const skeleton_ids *ids, int side, int straight_arm,
                          int finger, float threshold, int32_t line[LINE_POINTS])
{
    const int32_t s = ids->shoulder[side], e = ids->elbow[side], w = ids->wrist[side];
    int32_t tip = w;
    line[0] = s;
    line[1] = e;
    line[2] = line[3] = line[4] = w;
    if (ids->hands != NULL) {
        const int32_t *hand = ids->hands + side * HAND_POINTS;
        const int32_t index_tip = hand[INDEX_TIP], knuckle = hand[INDEX_KNUCKLE], root = hand[0];
        const int use_tip = finger && seen(p, index_tip, threshold);
        const int root_ok = seen(p, root, threshold);
        if (use_tip)
            tip = index_tip;
        if (root_ok) /* the hand root: the network's second estimate of the wrist */
            line[3] = line[4] = root;
        if (use_tip && !straight_arm && seen(p, knuckle, threshold) && root_ok) {
            /* a bent arm with a pointing finger: forearm, hand and index finger */
            line[0] = e;
            line[1] = w;
            line[2] = root;
            line[3] = knuckle;
            line[4] = index_tip;
        }
    }
    if (!straight_arm && line[0] == s) /* a bent arm points with its forearm */
        line[0] = e;
    return tip;
}

/* The 3D ray from the hand along the arm and where it meets the plane; NaN where the
 * hand or the line's ends have no 3D. */
static void ray_3d(const person *p, int32_t tip, int32_t wrist, const int32_t line[LINE_POINTS],
                   const body_settings *cfg, double origin[3], double direction[3],
                   double target[3])
{
    point_3d(p, valid_3d(p, tip) ? tip : wrist, origin);
    const int first_ok = valid_3d(p, line[0]);
    if (!(isfinite(origin[0]) && isfinite(origin[1]) && isfinite(origin[2]) && first_ok
          && valid_3d(p, line[LINE_POINTS - 1]))) {
        fill_nan(origin, 3);
        fill_nan(direction, 3);
        fill_nan(target, 3);
        return;
    }
    double points[LINE_POINTS][3];
    for (int j = 0; j < LINE_POINTS; ++j) /* joints without 3D: the line's first instead */
        point_3d(p, valid_3d(p, line[j]) ? line[j] : line[0], points[j]);
    fit_line_3d(points, direction);
    plane_intersection(origin, direction, cfg, target);
}

/* Person i's pointing cue into the outputs. */
static void estimate_pointing(const person *p, const skeleton_ids *ids, const uint8_t state[2],
                              const body_settings *cfg, Py_ssize_t i, body_outputs *out)
{
    double confidence[2], straight[2];
    arm_confidence(p, ids, state, cfg, confidence, straight);
    const int best = confidence[1] > confidence[0]; /* argmax: the first maximum */
    const int pointing = confidence[best] >= cfg->min_confidence;
    out->arm_confidence[2 * i] = confidence[0];
    out->arm_confidence[2 * i + 1] = confidence[1];
    out->confidence[i] = confidence[best];
    out->pointing[i] = (uint8_t)pointing;
    out->hand[i] = pointing ? (best == 0 ? SIDE_LEFT : SIDE_RIGHT) : SIDE_NONE;
    double *origin_px = out->origin_px + 2 * i, *direction_px = out->direction_px + 2 * i;
    double *origin_m = out->origin_m + 3 * i, *direction = out->direction + 3 * i;
    double *target = out->target_m + 3 * i;
    if (!pointing) {
        fill_nan(origin_px, 2);
        fill_nan(direction_px, 2);
        fill_nan(origin_m, 3);
        fill_nan(direction, 3);
        fill_nan(target, 3);
        return;
    }
    int32_t line[LINE_POINTS];
    const int32_t tip = ray_joints(p, ids, best, straight[best] >= 0.5,
                                   state[best] == HAND_POINTING, cfg->threshold, line);
    double points[LINE_POINTS][3];
    for (int j = 0; j < LINE_POINTS; ++j)
        point_2d(p, line[j], points[j]);
    point_2d(p, tip, origin_px);
    fit_line_2d(points, direction_px);
    if (p->kp3 != NULL) {
        ray_3d(p, tip, ids->wrist[best], line, cfg, origin_m, direction, target);
    } else {
        fill_nan(origin_m, 3);
        fill_nan(direction, 3);
        fill_nan(target, 3);
    }
}

/* ---- all cues of one person --------------------------------------------------------- */

static void person_cues(const person *p, const skeleton_ids *ids, const body_settings *cfg,
                        Py_ssize_t i, body_outputs *out)
{
    double *head = out->head_position + 3 * i;
    if (p->kp3 != NULL) {
        double body[3];
        robust_position(p, ids->anchors, ids->n_head, head);
        robust_position(p, ids->anchors, ids->n_anchors, body);
        out->distance[i] = sqrt(dot(body, body, 3));
    } else {
        fill_nan(head, 3);
        out->distance[i] = NAN;
    }
    const double scale = person_scale(p, ids, cfg->threshold);
    out->scale[i] = scale;
    uint8_t *state = out->hand_state + 2 * i;
    for (int side = 0; side < 2; ++side) {
        out->raised[2 * i + side] = (uint8_t)hand_raised(p, ids, side, scale, cfg);
        state[side] = ids->hands != NULL
                          ? hand_state(p, ids->hands + side * HAND_POINTS, cfg)
                          : HAND_UNKNOWN;
        out->wave_x[2 * i + side] = wave_signal(p, ids, side, scale, cfg->threshold,
                                                &out->wave_ok[2 * i + side]);
    }
    estimate_pointing(p, ids, state, cfg, i, out);
}

/* ---- entry point -------------------------------------------------------------------- */

/* 0 when every id of ids[0..count) is a keypoint of a K-point skeleton. */
static int check_ids(const int32_t *ids, Py_ssize_t count, Py_ssize_t k, const char *name)
{
    for (Py_ssize_t j = 0; j < count; ++j)
        if (ids[j] < 0 || ids[j] >= k) {
            PyErr_Format(PyExc_ValueError,
                         "humanpose.cues._kernel.body_cues: %s holds keypoint id %d, "
                         "outside 0 .. %zd",
                         name, (int)ids[j], k - 1);
            return -1;
        }
    return 0;
}

enum { N_OUTPUTS = 16 };

PyObject *cues_body_cues(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer kp, conf, kp3, conf3, joints, anchors, hands, settings;
    Py_buffer o[N_OUTPUTS];
    Py_ssize_t n, k, n_head;
    if (!PyArg_ParseTuple(args,
                          "nny*y*z*z*y*y*nz*y*"
                          "w*w*w*w*w*w*w*w*w*w*w*w*w*w*w*w*:body_cues",
                          &n, &k, &kp, &conf, &kp3, &conf3, &joints, &anchors, &n_head, &hands,
                          &settings, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7],
                          &o[8], &o[9], &o[10], &o[11], &o[12], &o[13], &o[14], &o[15]))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t f32 = (Py_ssize_t)sizeof(float), f64 = (Py_ssize_t)sizeof(double);
    const Py_ssize_t i32 = (Py_ssize_t)sizeof(int32_t);
    /* Outputs: name, items per person, item size. */
    static const struct {
        const char *name;
        Py_ssize_t per_person;
        int is_double;
    } outputs[N_OUTPUTS] = {
        {"head_position", 3, 1}, {"distance", 1, 1},     {"scale", 1, 1},
        {"raised", 2, 0},        {"hand_state", 2, 0},   {"pointing", 1, 0},
        {"hand", 1, 0},          {"confidence", 1, 1},   {"arm_confidence", 2, 1},
        {"origin_px", 2, 1},     {"direction_px", 2, 1}, {"origin_m", 3, 1},
        {"direction", 3, 1},     {"target_m", 3, 1},     {"wave_x", 2, 1},
        {"wave_ok", 2, 0},
    };
    const Py_ssize_t n_anchors = anchors.len / i32;
    if (n < 0 || k <= 0) {
        PyErr_Format(PyExc_ValueError,
                     "humanpose.cues._kernel.body_cues: need n >= 0 people and k > 0 "
                     "keypoints, got n=%zd, k=%zd", n, k);
        goto done;
    }
    if ((kp3.buf == NULL) != (conf3.buf == NULL)) {
        PyErr_SetString(PyExc_ValueError, "humanpose.cues._kernel.body_cues: keypoints_3d "
                                          "and confidence_3d come together or not at all");
        goto done;
    }
    if (n_anchors < 1 || n_anchors > MAX_ANCHORS || n_head < 1 || n_head > n_anchors) {
        PyErr_Format(PyExc_ValueError,
                     "humanpose.cues._kernel.body_cues: need 1 .. %d anchors (int32) and "
                     "1 .. that many head anchors, got %zd and %zd", MAX_ANCHORS, n_anchors,
                     n_head);
        goto done;
    }
    if (cues_check_buffer(&kp, n * k * 2, f32, "keypoints (float32, N x K x 2)")
        || cues_check_buffer(&conf, n * k, f32, "confidence (float32, N x K)")
        || (kp3.buf != NULL
            && (cues_check_buffer(&kp3, n * k * 3, f32, "keypoints_3d (float32, N x K x 3)")
                || cues_check_buffer(&conf3, n * k, f32, "confidence_3d (float32, N x K)")))
        || cues_check_buffer(&joints, 8, i32, "joints (int32, shoulders, elbows, wrists, hips)")
        || cues_check_buffer(&anchors, n_anchors, i32, "anchors (int32)")
        || (hands.buf != NULL
            && cues_check_buffer(&hands, 2 * HAND_POINTS, i32, "hands (int32, 2 x 21)"))
        || cues_check_buffer(&settings, 13, f64, "settings (float64, 13)"))
        goto done;
    for (int j = 0; j < N_OUTPUTS; ++j)
        if (cues_check_buffer(&o[j], n * outputs[j].per_person, outputs[j].is_double ? f64 : 1,
                              outputs[j].name))
            goto done;
    const int32_t *joint = (const int32_t *)joints.buf;
    if (check_ids(joint, 8, k, "joints") || check_ids(anchors.buf, n_anchors, k, "anchors")
        || (hands.buf != NULL && check_ids(hands.buf, 2 * HAND_POINTS, k, "hands")))
        goto done;

    skeleton_ids ids;
    for (int side = 0; side < 2; ++side) {
        ids.shoulder[side] = joint[side];
        ids.elbow[side] = joint[2 + side];
        ids.wrist[side] = joint[4 + side];
        ids.hip[side] = joint[6 + side];
    }
    ids.anchors = (const int32_t *)anchors.buf;
    ids.n_anchors = n_anchors;
    ids.n_head = n_head;
    ids.hands = (const int32_t *)hands.buf;

    const double *s = (const double *)settings.buf;
    const body_settings cfg = {
        .threshold = (float)s[0], .raised_margin = s[1], .extended_ratio = s[2],
        .curled_ratio = s[3], .straight_deg = {s[4], s[5]}, .lift_deg = {s[6], s[7]},
        .min_confidence = s[8], .normal = {s[9], s[10], s[11]}, .plane_distance = s[12],
    };
    body_outputs out = {
        (double *)o[0].buf,   (double *)o[1].buf,   (double *)o[2].buf,
        (uint8_t *)o[3].buf,  (uint8_t *)o[4].buf,  (uint8_t *)o[5].buf,
        (uint8_t *)o[6].buf,  (double *)o[7].buf,   (double *)o[8].buf,
        (double *)o[9].buf,   (double *)o[10].buf,  (double *)o[11].buf,
        (double *)o[12].buf,  (double *)o[13].buf,  (double *)o[14].buf,
        (uint8_t *)o[15].buf,
    };
    for (Py_ssize_t i = 0; i < n; ++i) {
        const person p = {
            (const float *)kp.buf + i * k * 2, (const float *)conf.buf + i * k,
            kp3.buf != NULL ? (const float *)kp3.buf + i * k * 3 : NULL,
            conf3.buf != NULL ? (const float *)conf3.buf + i * k : NULL,
        };
        person_cues(&p, &ids, &cfg, i, &out);
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&kp);
    PyBuffer_Release(&conf);
    PyBuffer_Release(&kp3);
    PyBuffer_Release(&conf3);
    PyBuffer_Release(&joints);
    PyBuffer_Release(&anchors);
    PyBuffer_Release(&hands);
    PyBuffer_Release(&settings);
    for (int j = 0; j < N_OUTPUTS; ++j)
        PyBuffer_Release(&o[j]);
    return result;
}
