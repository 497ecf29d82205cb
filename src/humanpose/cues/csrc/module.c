/*
 * humanpose.cues._kernel: the module object and its method table. The entry points live
 * in their cue family's file and are declared in cues.h.
 */
#include "cues.h"

int cues_check_buffer(const Py_buffer *buffer, Py_ssize_t count, Py_ssize_t itemsize,
                      const char *name)
{
    if (buffer->len != count * itemsize) {
        PyErr_Format(PyExc_ValueError,
                     "humanpose.cues._kernel: %s holds %zd bytes, expected %zd x %zd",
                     name, buffer->len, count, itemsize);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(body_cues_doc,
"body_cues(n, k, keypoints, confidence, keypoints_3d, confidence_3d, joints, anchors,\n"
"          n_head, hands, settings, head_position, distance, scale, raised, hand_state,\n"
"          pointing, hand, confidence_best, arm_confidence, origin_px, direction_px,\n"
"          origin_m, direction, target_m, wave_x, wave_ok)\n"
"\n"
"The single-image body cues of n people (humanpose.cues.image_cues; body.c).\n"
"Inputs, C order: keypoints (n, k, 2) and confidence (n, k) float32; keypoints_3d\n"
"(n, k, 3) and confidence_3d (n, k) float32, or both None; int32 ids: joints (8,) =\n"
"shoulders, elbows, wrists, hips (left, right each), anchors (A,) whose first n_head\n"
"are the head's, hands (2, 21) or None; settings (13,) float64 = keypoint threshold,\n"
"hand raised margin, extended and curled finger ratios, straight_deg (2), lift_deg (2),\n"
"min_confidence, unit plane normal (3), plane distance. Outputs, written in place:\n"
"float64 head_position (n, 3), distance (n,), scale (n,), confidence_best (n,),\n"
"arm_confidence (n, 2), origin_px (n, 2), direction_px (n, 2), origin_m (n, 3),\n"
"direction (n, 3), target_m (n, 3), wave_x (n, 2); one byte each: raised (n, 2) bool,\n"
"hand_state (n, 2) uint8, pointing (n,) bool, hand (n,) uint8, wave_ok (n, 2) bool.\n"
"Raises ValueError when a buffer's size does not match or an id is out of range.");

static PyMethodDef methods[] = {
    {"body_cues", cues_body_cues, METH_VARARGS, body_cues_doc},
    {"head_poses", cues_head_poses, METH_VARARGS, cues_head_poses_doc},
    {"oscillation", cues_oscillation, METH_VARARGS, cues_oscillation_doc},
    {"track_cues", cues_track_cues, METH_VARARGS, cues_track_cues_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernel",
    "The per-image HRI cues in C (humanpose.cues.kernel; NumPy is the fallback).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__kernel(void)
{
    return PyModule_Create(&module);
}
