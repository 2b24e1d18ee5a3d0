// Nothing: the declaration in include/ is all this target provides (libFuzzer defines it).
