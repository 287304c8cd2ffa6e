// Kernel bodies compiled for CPU capability AVX512 (flags set per file by setup.py).
#include "kernels_impl.h"
