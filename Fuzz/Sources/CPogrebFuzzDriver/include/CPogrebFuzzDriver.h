#ifndef C_POGREB_FUZZ_DRIVER_H
#define C_POGREB_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

// libFuzzer's driver, as a function (compiler-rt, FuzzerInterface.h): runs the fuzzing loop
// with `callback` as the target and the libFuzzer flags in argv. SwiftPM gives an executable
// target its own `main` (renamed for testing), so the Swift `main` calls this instead of
// linking libFuzzer's `main`.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
