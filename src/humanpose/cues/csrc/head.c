/*
 * Head pose and attention per person: the C twin of humanpose.cues.head.estimate_head_poses.
 *
 * For each person, the face landmarks of the skeleton's face model are turned into
 * normalised image rays (x/z, y/z) and the generic face is fitted to them:
 *   1. rays: pixels rescaled to the calibration's resolution (lift3d._to_pixels_of, pixel
 *      centres), then solved through the camera matrix (K, or P[:, :3] when rectified) as
 *      lift3d.pixel_rays does; for a distorted raw image the caller passes the rays (NumPy
 *      undistortion) instead;
 *   2. usable landmarks: confidence >= min_confidence and a finite ray; fewer than
 *      max(min_points, 4) = no pose;
 *   3. head.solve_pnp: a weighted affine (weak-perspective) fit made a rotation
 *      (head._affine_start), then `iterations` Gauss-Newton steps on the reprojection
 *      error with the left perturbation R <- exp(w) R, t <- t + dt, damped by
 *      1e-9 I + 1e-6 trace(H) I, and the RMS reprojection error;
 *   4. valid: finite RMS and rotation, in front of the camera, RMS below
 *      face_radius / depth; then yaw/pitch/roll (head.yaw_pitch_roll), the face direction
 *      (head x = the rotation's first column) and the attention angle (between the face
 *      direction and the line from the head to the camera centre).
 * Every definition, order of operations and NaN rule follows the NumPy code (landmarks
 * with weight 0 take part with weight 0 as there, so NaN/inf spread the same way); the
 * linear solves use Cholesky factorisations instead of LAPACK's LU, which changes results
 * by float rounding only (the matrices are symmetric positive definite by construction).
 */
#include "cues.h"

#include <math.h>
#include <string.h>

/* The face model and the thresholds of one call. */
typedef struct {
    Py_ssize_t landmarks;    /* M */
    const double *model;     /* (M, 3) head-frame points, metres */
    double min_confidence;
    Py_ssize_t min_usable;   /* max(min_points, 4) */
    int iterations;
    double face_radius;      /* metres; the RMS bound is face_radius / depth */
} FaceFit;

/* One person's head pose; NaN everywhere when not valid. */
typedef struct {
    int valid;
    double rotation[3][3];   /* head frame -> camera optical frame */
    double translation[3];
    double ypr[3];
    double direction[3];
    double attention;
} HeadPose;

/* --- Linear algebra: 3x3 LU (the camera matrix), small SPD solves, Rodrigues. --------- */

/* A 3x3 matrix factorised with partial pivoting, as LAPACK's getrf: P A = L U. */
typedef struct {
    double lu[3][3];
    int row[3]; /* row[i]: the row of A that became row i */
} Lu3;

/* Factorise the first three columns of a 3 x `columns` row-major matrix; 0 if singular. */
static int lu3_factor(const double *matrix, int columns, Lu3 *f)
{
    for (int i = 0; i < 3; ++i) {
        f->row[i] = i;
        for (int j = 0; j < 3; ++j)
            f->lu[i][j] = matrix[i * columns + j];
    }
    for (int k = 0; k < 3; ++k) {
        int pivot = k; /* the first largest magnitude, as idamax */
        for (int i = k + 1; i < 3; ++i)
            if (fabs(f->lu[i][k]) > fabs(f->lu[pivot][k]))
                pivot = i;
        if (f->lu[pivot][k] == 0.0)
            return 0;
        if (pivot != k) {
            double tmp[3];
            memcpy(tmp, f->lu[k], sizeof tmp);
            memcpy(f->lu[k], f->lu[pivot], sizeof tmp);
            memcpy(f->lu[pivot], tmp, sizeof tmp);
            int r = f->row[k];
            f->row[k] = f->row[pivot];
            f->row[pivot] = r;
        }
        for (int i = k + 1; i < 3; ++i) {
            f->lu[i][k] /= f->lu[k][k];
            for (int j = k + 1; j < 3; ++j)
                f->lu[i][j] -= f->lu[i][k] * f->lu[k][j];
        }
    }
    return 1;
}

/* Solve A x = b with the factorisation of A. */
static void lu3_solve(const Lu3 *f, const double b[3], double x[3])
{
    double y[3];
    for (int i = 0; i < 3; ++i) {
        y[i] = b[f->row[i]];
        for (int j = 0; j < i; ++j)
            y[i] -= f->lu[i][j] * y[j];
    }
    for (int i = 2; i >= 0; --i) {
        for (int j = i + 1; j < 3; ++j)
            y[i] -= f->lu[i][j] * x[j];
        x[i] = y[i] / f->lu[i][i];
    }
}

/*
 * Solve A X = B in place for a symmetric positive definite n x n A (row-major; its lower
 * triangle is overwritten by the Cholesky factor L) and n x nrhs B (overwritten by X).
 * A matrix that is not positive definite (NaN entries) gives NaN, as the NumPy fit's
 * NaN then fails the validity test.
 */
static void spd_solve(double *a, int n, double *b, int nrhs)
{
    for (int j = 0; j < n; ++j) {
        double d = a[j * n + j];
        for (int k = 0; k < j; ++k)
            d -= a[j * n + k] * a[j * n + k];
        d = sqrt(d);
        a[j * n + j] = d;
        for (int i = j + 1; i < n; ++i) {
            double s = a[i * n + j];
            for (int k = 0; k < j; ++k)
                s -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = s / d;
        }
    }
    for (int c = 0; c < nrhs; ++c) {
        for (int i = 0; i < n; ++i) { /* L y = b */
            double s = b[i * nrhs + c];
            for (int k = 0; k < i; ++k)
                s -= a[i * n + k] * b[k * nrhs + c];
            b[i * nrhs + c] = s / a[i * n + i];
        }
        for (int i = n - 1; i >= 0; --i) { /* L^T x = y */
            double s = b[i * nrhs + c];
            for (int k = i + 1; k < n; ++k)
                s -= a[k * n + i] * b[k * nrhs + c];
            b[i * nrhs + c] = s / a[i * n + i];
        }
    }
}

/* The rotation matrix of a rotation vector (head.rotation_matrices, Rodrigues). */
static void rotation_of_vector(const double w[3], double r[3][3])
{
    double theta = sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
    double norm = theta > 1e-12 ? theta : 1.0;
    double kx = w[0] / norm, ky = w[1] / norm, kz = w[2] / norm;
    double cross[3][3] = {{0.0, -kz, ky}, {kz, 0.0, -kx}, {-ky, kx, 0.0}};
    double s = sin(theta), c = 1.0 - cos(theta);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
            double square = cross[i][0] * cross[0][j] + cross[i][1] * cross[1][j]
                            + cross[i][2] * cross[2][j];
            r[i][j] = ((i == j ? 1.0 : 0.0) + s * cross[i][j]) + c * square;
        }
}

static void matmul3(const double a[3][3], const double b[3][3], double out[3][3])
{
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            out[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
}

/* q = R x for a head-frame point x. */
static void rotate(const double r[3][3], const double x[3], double q[3])
{
    for (int i = 0; i < 3; ++i)
        q[i] = r[i][0] * x[0] + r[i][1] * x[1] + r[i][2] * x[2];
}

/* --- The fit (head._affine_start, head.solve_pnp). ----------------------------------- */

/*
 * Weak-perspective start: the weighted affine map from the model to the rays, its two
 * rows made the nearest orthonormal pair (symmetric about their bisector), their cross
 * product the third row; depth = 1 / the mean row length.
 */
static void affine_start(const FaceFit *fit, const double *rays, const double *weights,
                         double r[3][3], double t[3])
{
    double normal[16] = {0.0}, rhs[8] = {0.0};
    for (Py_ssize_t j = 0; j < fit->landmarks; ++j) {
        const double *x = fit->model + 3 * j;
        const double design[4] = {x[0], x[1], x[2], 1.0};
        const double w = weights[j];
        for (int a = 0; a < 4; ++a) {
            for (int b = 0; b < 4; ++b)
                normal[4 * a + b] += w * (design[a] * design[b]);
            rhs[2 * a] += design[a] * (w * rays[2 * j]);
            rhs[2 * a + 1] += design[a] * (w * rays[2 * j + 1]);
        }
    }
    for (int a = 0; a < 4; ++a)
        normal[5 * a] += 1e-9;
    spd_solve(normal, 4, rhs, 2); /* rhs: the (4, 2) affine map */
    double unit[2][3], norms[2];
    for (int k = 0; k < 2; ++k) {
        norms[k] = sqrt(rhs[k] * rhs[k] + rhs[2 + k] * rhs[2 + k] + rhs[4 + k] * rhs[4 + k]);
        for (int i = 0; i < 3; ++i)
            unit[k][i] = rhs[2 * i + k] / norms[k];
    }
    double scale = 0.5 * (norms[0] + norms[1]);
    double pm[2][3];
    for (int i = 0; i < 3; ++i) {
        pm[0][i] = unit[0][i] + unit[1][i];
        pm[1][i] = unit[0][i] - unit[1][i];
    }
    for (int k = 0; k < 2; ++k) {
        double length = sqrt(pm[k][0] * pm[k][0] + pm[k][1] * pm[k][1] + pm[k][2] * pm[k][2])
                        * sqrt(2.0);
        for (int i = 0; i < 3; ++i)
            pm[k][i] /= length;
    }
    for (int i = 0; i < 3; ++i) {
        r[0][i] = pm[0][i] + pm[1][i];
        r[1][i] = pm[0][i] - pm[1][i];
    }
    for (int i = 0; i < 3; ++i) {
        int next = (i + 1) % 3, after = (i + 2) % 3;
        r[2][i] = r[0][next] * r[1][after] - r[0][after] * r[1][next];
    }
    double depth = 1.0 / scale;
    t[0] = rhs[6] * depth;
    t[1] = rhs[7] * depth;
    t[2] = depth;
}

/*
 * One Gauss-Newton step on the weighted reprojection error. Per landmark, with q = R x,
 * p = q + t, z = p_z (kept off 0), (u, v) = (p_x, p_y) / z and s = sqrt(w) / z, the
 * Jacobian rows of (u, v) with respect to (w, dt) are (G_xy - (u, v) G_z) s, where
 * G = [-[q]x | I] = [[0, qz, -qy, 1, 0, 0], [-qz, 0, qx, 0, 1, 0], [qy, -qx, 0, 0, 0, 1]].
 * They are written element by element as NumPy computes them, the products with G's
 * zeros included, so that NaN and inf spread alike.
 */
static void gauss_newton_step(const FaceFit *fit, const double *rays, const double *weights,
                              double r[3][3], double t[3])
{
    double h[36] = {0.0}, g[6] = {0.0};
    for (Py_ssize_t j = 0; j < fit->landmarks; ++j) {
        double q[3];
        rotate(r, fit->model + 3 * j, q);
        double z = q[2] + t[2];
        z = fabs(z) > 1e-9 ? z : 1e-9;
        const double u = (q[0] + t[0]) / z, v = (q[1] + t[1]) / z;
        const double sqrt_w = sqrt(weights[j]);
        const double s = sqrt_w / z;
        const double residual[2] = {(u - rays[2 * j]) * sqrt_w, (v - rays[2 * j + 1]) * sqrt_w};
        const double jac[2][6] = {
            {(0.0 - u * q[1]) * s, (q[2] + u * q[0]) * s, (-q[1] - u * 0.0) * s,
             (1.0 - u * 0.0) * s, (0.0 - u * 0.0) * s, (0.0 - u) * s},
            {(-q[2] - v * q[1]) * s, (0.0 + v * q[0]) * s, (q[0] - v * 0.0) * s,
             (0.0 - v * 0.0) * s, (1.0 - v * 0.0) * s, (0.0 - v) * s},
        };
        for (int row = 0; row < 2; ++row)
            for (int a = 0; a < 6; ++a) {
                for (int b = a; b < 6; ++b)
                    h[6 * a + b] += jac[row][a] * jac[row][b];
                g[a] += jac[row][a] * residual[row];
            }
    }
    double trace = 0.0;
    for (int a = 0; a < 6; ++a) {
        trace += h[7 * a];
        for (int b = 0; b < a; ++b)
            h[6 * a + b] = h[6 * b + a];
    }
    const double damping = 1e-9 + 1e-6 * trace;
    for (int a = 0; a < 6; ++a)
        h[7 * a] += damping;
    spd_solve(h, 6, g, 1); /* g: minus the step */
    const double w[3] = {-g[0], -g[1], -g[2]};
    double turn[3][3], turned[3][3];
    rotation_of_vector(w, turn);
    matmul3(turn, r, turned);
    memcpy(r, turned, sizeof turned);
    for (int i = 0; i < 3; ++i)
        t[i] += -g[3 + i];
}

/* RMS reprojection error over the weighted landmarks (no clamp on z, as the NumPy code). */
static double reprojection_rms(const FaceFit *fit, const double *rays, const double *weights,
                               const double r[3][3], const double t[3])
{
    double total = 0.0, count = 0.0;
    for (Py_ssize_t j = 0; j < fit->landmarks; ++j) {
        double q[3];
        rotate(r, fit->model + 3 * j, q);
        const double z = q[2] + t[2];
        const double du = (q[0] + t[0]) / z - rays[2 * j];
        const double dv = (q[1] + t[1]) / z - rays[2 * j + 1];
        total += weights[j] * (du * du) + weights[j] * (dv * dv);
        count += weights[j];
    }
    return sqrt(total / (count > 1.0 ? count : 1.0));
}

/* Yaw, pitch, roll of a head rotation relative to facing the camera (head.yaw_pitch_roll):
 * with FACING_CAMERA^T R = rel, rows of rel are -R[2], R[0], -R[1]. */
static void yaw_pitch_roll(const double r[3][3], double ypr[3])
{
    double sine = r[1][0];
    sine = sine < -1.0 ? -1.0 : (sine > 1.0 ? 1.0 : sine);
    ypr[0] = atan2(r[0][0], -r[2][0]);
    ypr[1] = asin(sine);
    ypr[2] = atan2(-r[1][1], -r[1][2]);
}

static void set_invalid(HeadPose *pose)
{
    pose->valid = 0;
    for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 3; ++j)
            pose->rotation[i][j] = NAN;
        pose->translation[i] = pose->ypr[i] = pose->direction[i] = NAN;
    }
    pose->attention = NAN;
}

/* The head pose of one person from its landmark rays (usable or not) and weights (0/1). */
static void fit_head(const FaceFit *fit, double *rays, const double *weights, HeadPose *pose)
{
    double r[3][3], t[3];
    for (Py_ssize_t j = 0; j < fit->landmarks; ++j)
        if (!(weights[j] > 0.0))
            rays[2 * j] = rays[2 * j + 1] = 0.0;
    affine_start(fit, rays, weights, r, t);
    for (int k = 0; k < fit->iterations; ++k)
        gauss_newton_step(fit, rays, weights, r, t);
    const double rms = reprojection_rms(fit, rays, weights, r, t);
    int finite = isfinite(rms);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            finite = finite && isfinite(r[i][j]);
    const double depth = t[2] > 1e-9 ? t[2] : 1e-9;
    if (!(finite && t[2] > 0.0 && rms < fit->face_radius / depth)) {
        set_invalid(pose);
        return;
    }
    pose->valid = 1;
    memcpy(pose->rotation, r, sizeof r);
    memcpy(pose->translation, t, sizeof t);
    yaw_pitch_roll(r, pose->ypr);
    for (int i = 0; i < 3; ++i)
        pose->direction[i] = r[i][0];
    double cosine = -(r[0][0] * t[0] + r[1][0] * t[1] + r[2][0] * t[2])
                    / sqrt(t[0] * t[0] + t[1] * t[1] + t[2] * t[2]);
    cosine = cosine < -1.0 ? -1.0 : (cosine > 1.0 ? 1.0 : cosine);
    pose->attention = acos(cosine);
}

/* --- Entry point. --------------------------------------------------------------------- */

/* Element i of a float32 (itemsize 4) or float64 (itemsize 8) buffer. */
static double element(const Py_buffer *buffer, Py_ssize_t i)
{
    return buffer->itemsize == 4 ? (double)((const float *)buffer->buf)[i]
                                 : ((const double *)buffer->buf)[i];
}

/* Confidence i reaches the threshold, compared in the confidence's own precision as
 * NumPy compares an array with a Python float. */
static int confident(const Py_buffer *confidence, Py_ssize_t i, double threshold)
{
    if (confidence->itemsize == 4)
        return ((const float *)confidence->buf)[i] >= (float)threshold;
    return ((const double *)confidence->buf)[i] >= threshold;
}

/* 0 when `buffer` holds `count` items of `itemsize` bytes each (the array's own item size,
 * so that e.g. float32 is not read as float64); else -1 with a ValueError. */
static int check_items(const Py_buffer *buffer, Py_ssize_t count, Py_ssize_t itemsize,
                       const char *name)
{
    if (buffer->itemsize != itemsize) {
        PyErr_Format(PyExc_ValueError,
                     "humanpose.cues._kernel.head_poses: %s must have items of %zd bytes, "
                     "got %zd", name, itemsize, buffer->itemsize);
        return -1;
    }
    return cues_check_buffer(buffer, count, itemsize, name);
}

/* As check_items for float32 or float64 items. */
static int check_floats(const Py_buffer *buffer, Py_ssize_t count, const char *name)
{
    if (buffer->itemsize != 4 && buffer->itemsize != 8) {
        PyErr_Format(PyExc_ValueError,
                     "humanpose.cues._kernel.head_poses: %s must be float32 or float64, got "
                     "items of %zd bytes", name, buffer->itemsize);
        return -1;
    }
    return cues_check_buffer(buffer, count, buffer->itemsize, name);
}

const char cues_head_poses_doc[] = PyDoc_STR(
"head_poses(keypoints, confidence, people, keypoint_count, face_ids, face_points,\n"
"           min_confidence, min_points, iterations, face_radius, camera_matrix,\n"
"           ratio_x, ratio_y, rays, valid, rotation, translation, ypr, direction,\n"
"           attention) -> bool\n"
"\n"
"Head poses of ``people`` people (humanpose.cues.head.estimate_head_poses).\n"
"keypoints: (people, keypoint_count, 2) pixels and confidence: (people, keypoint_count),\n"
"each float32 or float64; face_ids: (M,) intp keypoint ids of the face model,\n"
"face_points: (M, 3) float64 head-frame points; camera_matrix: K (3 x 3) or P (3 x 4)\n"
"float64, whose first three columns map rays to pixels; ratio_x, ratio_y: the pixel\n"
"rescale to the calibration's resolution (1, 1: none); rays: None to map the pixels\n"
"with camera_matrix, else (people, M, 2) float64 normalised rays of the face landmarks\n"
"(a distorted raw image). Outputs, written in full: valid (people,) bool, rotation\n"
"(people, 3, 3), translation (people, 3), ypr (people, 3), direction (people, 3),\n"
"attention (people,), float64, NaN where not valid. Returns False, writing nothing,\n"
"when the camera matrix is singular and was needed (uncalibrated camera).");

PyObject *cues_head_poses(PyObject *self, PyObject *args)
{
    Py_buffer keypoints, confidence, ids_buffer, points, matrix, rays_in, valid, rotation,
        translation, ypr, direction, attention;
    Py_ssize_t people, count, min_points;
    double min_confidence, face_radius, ratio_x, ratio_y;
    int iterations;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*nny*y*dnidy*ddz*w*w*w*w*w*w*", &keypoints, &confidence,
                          &people, &count, &ids_buffer, &points, &min_confidence, &min_points,
                          &iterations, &face_radius, &matrix, &ratio_x, &ratio_y, &rays_in,
                          &valid, &rotation, &translation, &ypr, &direction, &attention))
        return NULL;
    PyObject *result = NULL;
    double *work = NULL;
    const Py_ssize_t d = (Py_ssize_t)sizeof(double);
    const Py_ssize_t m = ids_buffer.len / (Py_ssize_t)sizeof(Py_ssize_t);
    const int given_rays = rays_in.buf != NULL;
    if (people < 0 || count < 0 || iterations < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "humanpose.cues._kernel.head_poses: people, keypoint_count and "
                        "iterations must be >= 0");
        goto done;
    }
    if (check_floats(&keypoints, people * count * 2, "keypoints") < 0
        || check_floats(&confidence, people * count, "confidence") < 0
        || check_items(&ids_buffer, m, (Py_ssize_t)sizeof(Py_ssize_t), "face_ids") < 0
        || check_items(&points, m * 3, d, "face_points") < 0
        || check_items(&matrix, matrix.len == 9 * d ? 9 : 12, d, "camera_matrix") < 0
        || (given_rays && check_items(&rays_in, people * m * 2, d, "rays") < 0)
        || check_items(&valid, people, 1, "valid") < 0
        || check_items(&rotation, people * 9, d, "rotation") < 0
        || check_items(&translation, people * 3, d, "translation") < 0
        || check_items(&ypr, people * 3, d, "ypr") < 0
        || check_items(&direction, people * 3, d, "direction") < 0
        || check_items(&attention, people, d, "attention") < 0)
        goto done;
    const Py_ssize_t *ids = (const Py_ssize_t *)ids_buffer.buf;
    for (Py_ssize_t j = 0; j < m; ++j)
        if (ids[j] < 0 || ids[j] >= count) {
            PyErr_Format(PyExc_ValueError,
                         "humanpose.cues._kernel.head_poses: face id %zd is not a keypoint "
                         "of %zd", ids[j], count);
            goto done;
        }
    const FaceFit fit = {m, (const double *)points.buf, min_confidence,
                         min_points > 4 ? min_points : 4, iterations, face_radius};
    /* As the NumPy code, the pixels are mapped only when someone could have a pose. */
    const int anyone = people > 0 && m >= (min_points > 3 ? min_points : 3);
    Lu3 camera;
    if (anyone && !given_rays && !lu3_factor((const double *)matrix.buf,
                                             matrix.len == 9 * d ? 3 : 4, &camera)) {
        result = Py_False;
        Py_INCREF(result);
        goto done;
    }
    work = PyMem_Malloc((size_t)(3 * (m > 0 ? m : 1)) * sizeof(double));
    if (work == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    double *rays = work, *weights = work + 2 * m;
    const int rescale = ratio_x != 1.0 || ratio_y != 1.0;
    for (Py_ssize_t n = 0; n < people; ++n) {
        HeadPose pose;
        Py_ssize_t usable = 0;
        for (Py_ssize_t j = 0; anyone && j < m; ++j) {
            const Py_ssize_t at = n * count + ids[j];
            double *ray = rays + 2 * j;
            if (given_rays) {
                ray[0] = ((const double *)rays_in.buf)[2 * (n * m + j)];
                ray[1] = ((const double *)rays_in.buf)[2 * (n * m + j) + 1];
            } else {
                double pixel[3] = {element(&keypoints, 2 * at), element(&keypoints, 2 * at + 1),
                                   1.0};
                double solved[3];
                if (rescale) {
                    pixel[0] = (pixel[0] + 0.5) * ratio_x - 0.5;
                    pixel[1] = (pixel[1] + 0.5) * ratio_y - 0.5;
                }
                lu3_solve(&camera, pixel, solved);
                ray[0] = solved[0] / solved[2];
                ray[1] = solved[1] / solved[2];
            }
            const int use = confident(&confidence, at, min_confidence) && isfinite(ray[0])
                            && isfinite(ray[1]);
            weights[j] = use ? 1.0 : 0.0;
            usable += use;
        }
        if (anyone && usable >= fit.min_usable)
            fit_head(&fit, rays, weights, &pose);
        else
            set_invalid(&pose);
        ((unsigned char *)valid.buf)[n] = (unsigned char)pose.valid;
        memcpy((double *)rotation.buf + 9 * n, pose.rotation, sizeof pose.rotation);
        memcpy((double *)translation.buf + 3 * n, pose.translation, sizeof pose.translation);
        memcpy((double *)ypr.buf + 3 * n, pose.ypr, sizeof pose.ypr);
        memcpy((double *)direction.buf + 3 * n, pose.direction, sizeof pose.direction);
        ((double *)attention.buf)[n] = pose.attention;
    }
    result = Py_True;
    Py_INCREF(result);
done:
    PyMem_Free(work);
    PyBuffer_Release(&keypoints);
    PyBuffer_Release(&confidence);
    PyBuffer_Release(&ids_buffer);
    PyBuffer_Release(&points);
    PyBuffer_Release(&matrix);
    PyBuffer_Release(&rays_in);
    PyBuffer_Release(&valid);
    PyBuffer_Release(&rotation);
    PyBuffer_Release(&translation);
    PyBuffer_Release(&ypr);
    PyBuffer_Release(&direction);
    PyBuffer_Release(&attention);
    return result;
}
