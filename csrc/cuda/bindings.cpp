// Python wiring of the CUDA driver (csrc/cuda/driver.h) as fbh.crypto._ec_cuda. Same argument
// conventions as the portable functions of fbh.crypto._ec (csrc/portable_bindings.cpp);
// nonces always come from the caller (fbh.crypto draws them with the OS CSPRNG).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "driver.h"

namespace py = pybind11;

namespace {

using u8_array = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;
using i64_array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

void require(bool cond, const std::string& msg) {
  if (!cond) throw py::value_error(msg);
}

std::size_t require_blocks(const u8_array& a, std::size_t k) {
  require(a.ndim() == 3 && a.shape(1) == static_cast<py::ssize_t>(k + 1) && a.shape(2) == 64,
          "block points must have shape (B, k + 1, 64)");
  return static_cast<std::size_t>(a.shape(0));
}

std::string require_digest(const py::bytes& b) {
  std::string s = b;
  require(s.size() == 32, "context digest must be 32 bytes");
  return s;
}

std::shared_ptr<fbh::cuda::DeviceTables> make_tables(const u8_array& bytes, std::size_t k) {
  py::gil_scoped_release nogil;
  return std::make_shared<fbh::cuda::DeviceTables>(bytes.data(), static_cast<std::size_t>(bytes.size()), k);
}

py::tuple encrypt(const fbh::cuda::DeviceTables& t, const i64_array& m, const py::bytes& ctx,
                  std::uint64_t count, const u8_array& nonces) {
  const std::size_t k = t.k;
  require(m.ndim() == 1 && static_cast<std::size_t>(m.shape(0)) % k == 0,
          "packed plaintexts must be a 1-D int64 array of whole blocks");
  const std::size_t nb = static_cast<std::size_t>(m.shape(0)) / k;
  const std::string c = require_digest(ctx);
  require(nonces.ndim() == 2 && static_cast<std::size_t>(nonces.shape(0)) == nb + 1 && nonces.shape(1) == 32,
          "nonces must have shape (B + 1, 32)");
  u8_array pts({static_cast<py::ssize_t>(nb), static_cast<py::ssize_t>(k + 1), py::ssize_t{64}});
  u8_array proof(py::ssize_t{96});
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = fbh::cuda::encrypt(pts.mutable_data(), proof.mutable_data(), t, m.data(), nb,
                             reinterpret_cast<const unsigned char*>(c.data()), count, nonces.data());
  }
  return py::make_tuple(pts, proof, bad);
}

py::tuple aggregate(const u8_array& items) {
  require(items.ndim() >= 2 && items.shape(items.ndim() - 1) == 64 && items.shape(0) >= 1,
          "aggregate inputs must have shape (C, ..., 64) with C >= 1");
  const auto nitems = static_cast<std::size_t>(items.shape(0));
  require(nitems < 65536, "at most 65535 inputs per aggregate call");
  const std::size_t np = static_cast<std::size_t>(items.size()) / 64 / nitems;
  std::vector<py::ssize_t> shape(items.shape() + 1, items.shape() + items.ndim());
  u8_array out(shape);
  std::size_t bad_item = 0;
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = fbh::cuda::aggregate(out.mutable_data(), items.data(), nitems, np, &bad_item);
  }
  return py::make_tuple(out, bad, bad_item);
}

py::tuple mul_r(const u8_array& s, const u8_array& pts) {
  require(s.ndim() == 2 && s.shape(1) == 32 && s.shape(0) >= 1, "secrets must have shape (k, 32)");
  const auto k = static_cast<std::size_t>(s.shape(0));
  const std::size_t nb = require_blocks(pts, k);
  u8_array out({static_cast<py::ssize_t>(nb), static_cast<py::ssize_t>(k), py::ssize_t{64}});
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = fbh::cuda::mul_r(out.mutable_data(), s.data(), k, pts.data(), nb);
  }
  return py::make_tuple(out, bad);
}

bool verify(const u8_array& pts, const u8_array& proof, std::size_t k, const py::bytes& ctx, std::uint64_t count) {
  const std::size_t nb = require_blocks(pts, k);
  require(proof.ndim() == 1 && proof.shape(0) == 96, "the proof must be 96 bytes");
  const std::string c = require_digest(ctx);
  py::gil_scoped_release nogil;
  return fbh::cuda::verify(pts.data(), proof.data(), nb, k, reinterpret_cast<const unsigned char*>(c.data()),
                           count) != 0;
}

std::string device_name() {
  char buf[256];
  fbh::cuda::device_name(buf, sizeof(buf));
  return buf;
}

}  // namespace

PYBIND11_MODULE(_ec_cuda, m) {
  m.doc() = "fbh packed kernels on NVIDIA GPUs (private: use fbh.crypto.backend)";
  py::class_<fbh::cuda::DeviceTables, std::shared_ptr<fbh::cuda::DeviceTables>>(m, "DeviceTables")
      .def(py::init(&make_tables), py::arg("table_bytes"), py::arg("k"))
      .def_readonly("k", &fbh::cuda::DeviceTables::k);
  m.def("device_count", &fbh::cuda::device_count);
  m.def("device_name", &device_name);
  m.def("encrypt", &encrypt, py::arg("tables"), py::arg("m"), py::arg("ctx"), py::arg("count"),
        py::arg("nonces"));
  m.def("aggregate", &aggregate, py::arg("items"));
  m.def("mul_r", &mul_r, py::arg("secrets"), py::arg("points"));
  m.def("verify", &verify, py::arg("points"), py::arg("proof"), py::arg("k"), py::arg("ctx"),
        py::arg("count"));
}
