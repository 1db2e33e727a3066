// Placeholder until the EC core lands; replaced by the crypto work.
#include <pybind11/pybind11.h>
PYBIND11_MODULE(_ec, m) { m.doc() = "fbh EC-ElGamal core (placeholder)"; }
