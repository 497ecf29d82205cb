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

static PyMethodDef methods[] = {
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
