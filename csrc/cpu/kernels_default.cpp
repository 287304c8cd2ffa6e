// Kernel bodies compiled for CPU capability DEFAULT (flags set per file by setup.py).
#include "kernels_impl.h"
