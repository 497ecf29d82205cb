/*
 * humanpose.cues._kernel: the per-image HRI cues in C, one file per cue family.
 *
 * The NumPy implementation (humanpose.cues) is the reference: a few hundred small array
 * operations per image, each costing microseconds of interpreter and dispatch, whatever
 * the number of people. The kernel computes the same quantities person by person in
 * plain loops (identical definitions, results equal to float rounding; the tests run
 * both). Arrays travel through the buffer protocol (no build dependency on NumPy);
 * callers pass C-contiguous arrays of the dtypes each entry point documents.
 */
#ifndef HUMANPOSE_CUES_H
#define HUMANPOSE_CUES_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/*
 * 0 when `buffer` holds exactly `count` items of `itemsize` bytes; else -1 with a
 * ValueError naming the argument (a caller's shape bug must not read past an array).
 */
int cues_check_buffer(const Py_buffer *buffer, Py_ssize_t count, Py_ssize_t itemsize,
                      const char *name);

/* body.c: the single-image body cues of N people (humanpose.cues.image_cues). */
PyObject *cues_body_cues(PyObject *self, PyObject *args);

/* head.c: head pose and attention per person (humanpose.cues.head.estimate_head_poses). */
PyObject *cues_head_poses(PyObject *self, PyObject *args);
extern const char cues_head_poses_doc[];

/* waving.c: the temporal cues (humanpose.cues.waving, humanpose.cues.state). */
extern const char cues_oscillation_doc[];
PyObject *cues_oscillation(PyObject *self, PyObject *args);
extern const char cues_track_cues_doc[];
PyObject *cues_track_cues(PyObject *self, PyObject *args);

#endif
