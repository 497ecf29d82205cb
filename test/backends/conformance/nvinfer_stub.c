/*
 * Stand-ins for libnvinfer.so.N, libnvonnxparser.so.N, libnvinfer_plugin.so.N and
 * libnvparsers.so.8, so that the real TensorRT Python bindings (tensorrt.so in the
 * tensorrt-bindings / tensorrt-cu12-bindings wheels) import on a machine without TensorRT.
 *
 * They export the C entry points the bindings import (nm -D --undefined-only tensorrt.so:
 * 8.6.1, 10.3.0 and 11.4 need the same set; 8.6 adds the UFF/Caffe parsers of
 * libnvparsers.so.8, whose C++ names are spelled mangled here) and every one fails: the
 * factories return NULL, which is what libnvinfer returns when it cannot start CUDA, so
 * trt.Builder(logger) / trt.Runtime(logger) raise pybind11's "factory function returned
 * nullptr" exactly as on a machine whose GPU or driver TensorRT cannot use.
 */
#include <stddef.h>

void *createInferBuilder_INTERNAL(void *logger, int version) { return NULL; }
void *createInferRuntime_INTERNAL(void *logger, int version) { return NULL; }
void *createInferRefitter_INTERNAL(void *engine, void *logger, int version) { return NULL; }
void *getPluginRegistry(void) { return NULL; }
void *getBuilderPluginRegistry(int capability) { return NULL; }
void *createNvOnnxParser_INTERNAL(void *network, void *logger, int version) { return NULL; }
void *createNvOnnxParserRefitter_INTERNAL(void *refitter, void *logger, int version)
{
    return NULL;
}
int getNvOnnxParserVersion(void) { return 0; }
int initLibNvInferPlugins(void *logger, const char *name_space) { return 0; }

/* libnvparsers.so.8 (TensorRT 8 only): nvuffparser::createUffParser(),
 * nvuffparser::FieldMap::FieldMap(char const*, void const*, FieldType, int),
 * nvcaffeparser1::createCaffeParser(), nvcaffeparser1::shutdownProtobufLibrary(). */
void *_ZN11nvuffparser15createUffParserEv(void) { return NULL; }
void _ZN11nvuffparser8FieldMapC1EPKcPKvNS_9FieldTypeEi(void *self, const char *name,
                                                       const void *data, int type, int length)
{
}
void *_ZN14nvcaffeparser117createCaffeParserEv(void) { return NULL; }
void _ZN14nvcaffeparser123shutdownProtobufLibraryEv(void) {}
