// Python wiring of the threshold kernels (csrc/threshold.h); called from bindings.cpp.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "threshold.h"
#include "util.h"

namespace py = pybind11;

namespace {

using u8_array = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;
using i64_array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

void require(bool cond, const char* msg) {
  if (!cond) throw py::value_error(msg);
}

std::size_t require_points(const u8_array& a) {
  require(a.ndim() >= 1 && a.shape(a.ndim() - 1) == 64, "points must have a last axis of 64 bytes");
  return static_cast<std::size_t>(a.size()) / 64;
}

py::bytes lincomb(const u8_array& pts, const u8_array& sc) {
  const std::size_t n = require_points(pts);
  require(sc.ndim() == 2 && sc.shape(1) == 32 && static_cast<std::size_t>(sc.shape(0)) == n,
          "scalars must have shape (n, 32), one per point");
  unsigned char out[64];
  std::size_t bad = 0;
  int ok;
  {
    py::gil_scoped_release nogil;
    ok = fbh::points_lincomb_var(out, pts.data(), sc.data(), n, &bad);
  }
  if (!ok) throw py::value_error("invalid point or scalar >= n at index " + std::to_string(bad));
  return py::bytes(reinterpret_cast<char*>(out), 64);
}

py::bytes mul_const(const py::bytes& point, const py::bytes& k32) {
  char* pd = nullptr;
  Py_ssize_t plen = 0;
  if (PyBytes_AsStringAndSize(point.ptr(), &pd, &plen) != 0) throw py::error_already_set();
  require(plen == 64, "point must be 64 bytes");
  fbh::ge p;
  std::uint8_t inf;
  require(fbh::ge_load_var(&p, &inf, reinterpret_cast<const unsigned char*>(pd), true) && !inf,
          "point must be finite and on the curve");
  // Read the secret in place: a std::string copy would not be wiped.
  char* kd = nullptr;
  Py_ssize_t klen = 0;
  if (PyBytes_AsStringAndSize(k32.ptr(), &kd, &klen) != 0) throw py::error_already_set();
  require(klen == 32, "scalar must be 32 bytes");
  fbh::scalar k;
  const auto overflow = fbh::scalar_set_b32(&k, reinterpret_cast<const unsigned char*>(kd));
  require(!overflow && !fbh::scalar_is_zero(&k), "scalar must be in [1, n - 1]");
  unsigned char out[64];
  fbh::point_mul_const(out, &p, &k);
  fbh::secure_zero(&k, sizeof(k));
  return py::bytes(reinterpret_cast<char*>(out), 64);
}

py::tuple decode(const u8_array& pts, const fbh::BsgsTable& t, std::uint64_t bound, int threads) {
  const std::size_t n = require_points(pts);
  i64_array out(static_cast<py::ssize_t>(n));
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = fbh::points_decode_var(out.mutable_data(), pts.data(), n, t, bound, threads);
  }
  return py::make_tuple(out, bad);
}

bool share_check(const u8_array& r, const u8_array& d, const u8_array& c, const py::bytes& rstar,
                 const u8_array& dstar, const u8_array& rho, int threads) {
  require(r.ndim() == 2 && r.shape(1) == 64, "R must have shape (B, 64)");
  require(d.ndim() == 3 && d.shape(0) == r.shape(0) && d.shape(2) == 64, "D must be (B, k, 64)");
  const auto nb = static_cast<std::size_t>(d.shape(0)), k = static_cast<std::size_t>(d.shape(1));
  require(c.ndim() == 2 && c.shape(1) == 32 && static_cast<std::size_t>(c.shape(0)) == nb,
          "coefficients must be (B, 32)");
  require(dstar.ndim() == 2 && dstar.shape(1) == 64 && static_cast<std::size_t>(dstar.shape(0)) == k,
          "D* must be (k, 64)");
  require(rho.ndim() == 2 && rho.shape(1) == 32 && static_cast<std::size_t>(rho.shape(0)) == k + 1,
          "rho must be (k + 1, 32)");
  const std::string rs = static_cast<std::string>(rstar);
  require(rs.size() == 64, "R* must be 64 bytes");
  py::gil_scoped_release nogil;
  return fbh::share_batch_check_var(r.data(), d.data(), c.data(), nb, k,
                                    reinterpret_cast<const unsigned char*>(rs.data()), dstar.data(),
                                    rho.data(), threads) != 0;
}

}  // namespace

void fbh_bind_threshold(py::module_& m) {
  m.def("points_lincomb", &lincomb, py::arg("points"), py::arg("scalars"));
  m.def("point_mul_const", &mul_const, py::arg("point"), py::arg("k"));
  m.def("points_decode", &decode, py::arg("points"), py::arg("table"), py::arg("bound"),
        py::arg("threads"));
  m.def("share_batch_check", &share_check, py::arg("r"), py::arg("d"), py::arg("c"),
        py::arg("rstar"), py::arg("dstar"), py::arg("rho"), py::arg("threads"));
}
