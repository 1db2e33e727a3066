// Python wiring of the portable (GPU-twin) packed kernels, csrc/portable/driver.h; called
// from bindings.cpp. Shapes are checked with the GIL held, the kernels run without it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "keyset.h"
#include "portable/driver.h"
#include "portable/kernels.h"
#include "util.h"

namespace py = pybind11;
namespace pt = fbh::portable;

namespace {

using u8_array = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;
using i64_array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
constexpr auto kPt = static_cast<py::ssize_t>(pt::kPointBytes);

void require(bool cond, const std::string& msg) {
  if (!cond) throw py::value_error(msg);
}

/// Fixed tables of G, P_0, ..., P_{k-1}: the expensive, caller-owned state of encryption.
struct PortableTables {
  std::size_t k = 0;
  std::vector<pt::ge> tabs;
};

std::shared_ptr<PortableTables> tables_from_points(const u8_array& pts, int threads) {
  require(pts.ndim() == 2 && pts.shape(1) == kPt, "key points must have shape (k, 64)");
  const auto k = static_cast<std::size_t>(pts.shape(0));
  require(k >= 1 && k <= fbh::kMaxSlots, "a key set has 1 to 256 keys");
  std::vector<unsigned char> bases((k + 1) * pt::kPointBytes);
  pt::generator_bytes(bases.data());
  std::copy(pts.data(), pts.data() + k * pt::kPointBytes, bases.begin() + kPt);
  auto t = std::make_shared<PortableTables>();
  t->k = k;
  t->tabs.resize((k + 1) * pt::kTablePoints);
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = pt::tables_build(t->tabs.data(), bases.data(), k + 1, threads);
  }
  require(bad < 0, "key " + std::to_string(bad - 1) + " is not a finite point of secp256k1");
  return t;
}

std::size_t require_blocks(const u8_array& a, std::size_t k) {
  require(a.ndim() == 3 && a.shape(1) == static_cast<py::ssize_t>(k + 1) && a.shape(2) == kPt,
          "block points must have shape (B, k + 1, 64)");
  return static_cast<std::size_t>(a.shape(0));
}

std::string require_digest(const py::bytes& b) {
  std::string s = b;
  require(s.size() == 32, "context digest must be 32 bytes");
  return s;
}

/// Fresh nonces from the OS CSPRNG, each redrawn until it lies in [1, n - 1].
void draw_nonces(unsigned char* out, std::size_t count) {
  fbh::os_random(out, 32 * count);
  for (std::size_t i = 0; i < count; ++i) {
    pt::scalar s;
    while (!pt::nonce_scalar(&s, out + 32 * i)) fbh::os_random(out + 32 * i, 32);
  }
}

py::tuple encrypt(const PortableTables& t, const i64_array& m, const py::bytes& ctx,
                  std::uint64_t count, const py::object& nonces, int threads) {
  const std::size_t k = t.k;
  require(m.ndim() == 1 && static_cast<std::size_t>(m.shape(0)) % k == 0,
          "packed plaintexts must be a 1-D int64 array of whole blocks");
  const std::size_t nb = static_cast<std::size_t>(m.shape(0)) / k;
  const std::string c = require_digest(ctx);
  std::vector<unsigned char> own;
  u8_array given;
  const unsigned char* np = nullptr;
  if (nonces.is_none()) {
    own.resize(32 * (nb + 1));
    draw_nonces(own.data(), nb + 1);
    np = own.data();
  } else {
    given = nonces.cast<u8_array>();
    require(given.ndim() == 2 && static_cast<std::size_t>(given.shape(0)) == nb + 1 &&
                given.shape(1) == 32,
            "nonces must have shape (B + 1, 32)");
    np = given.data();
  }
  u8_array pts({static_cast<py::ssize_t>(nb), static_cast<py::ssize_t>(k + 1), kPt});
  u8_array proof({static_cast<py::ssize_t>(pt::kProofBytes)});
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = pt::encrypt(pts.mutable_data(), proof.mutable_data(), t.tabs.data(), k, m.data(), nb,
                      reinterpret_cast<const unsigned char*>(c.data()), count, np, threads);
  }
  if (!own.empty()) fbh::secure_zero(own.data(), own.size());
  return py::make_tuple(pts, proof, bad);
}

py::tuple aggregate(const u8_array& items, int threads) {
  require(items.ndim() >= 2 && items.shape(items.ndim() - 1) == kPt && items.shape(0) >= 1,
          "aggregate inputs must have shape (C, ..., 64) with C >= 1");
  const auto nitems = static_cast<std::size_t>(items.shape(0));
  const std::size_t np = static_cast<std::size_t>(items.size()) / 64 / nitems;
  std::vector<py::ssize_t> shape(items.shape() + 1, items.shape() + items.ndim());
  u8_array out(shape);
  std::size_t bad_item = 0;
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = pt::aggregate(out.mutable_data(), items.data(), nitems, np, threads, &bad_item);
  }
  return py::make_tuple(out, bad, bad_item);
}

py::tuple mul_r(const fbh::SecKeySet& sk, const u8_array& pts, int threads) {
  const std::size_t k = sk.k();
  const std::size_t nb = require_blocks(pts, k);
  std::vector<unsigned char> s(32 * k);
  for (std::size_t j = 0; j < k; ++j) fbh::scalar_get_b32(s.data() + 32 * j, &sk.s(j));
  u8_array out({static_cast<py::ssize_t>(nb), static_cast<py::ssize_t>(k), kPt});
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = pt::mul_r(out.mutable_data(), s.data(), k, pts.data(), nb, threads);
  }
  fbh::secure_zero(s.data(), s.size());
  return py::make_tuple(out, bad);
}

bool verify(const u8_array& pts, const u8_array& proof, std::size_t k, const py::bytes& ctx,
            std::uint64_t count, int threads) {
  const std::size_t nb = require_blocks(pts, k);
  require(proof.ndim() == 1 && proof.shape(0) == static_cast<py::ssize_t>(pt::kProofBytes),
          "the proof must be 96 bytes");
  const std::string c = require_digest(ctx);
  py::gil_scoped_release nogil;
  return pt::verify(pts.data(), proof.data(), nb, k, reinterpret_cast<const unsigned char*>(c.data()),
                    count, threads) != 0;
}

u8_array table_bytes(const PortableTables& t) {
  const auto n = static_cast<py::ssize_t>(t.tabs.size() * sizeof(pt::ge));
  u8_array out(n);
  std::memcpy(out.mutable_data(), t.tabs.data(), static_cast<std::size_t>(n));
  return out;
}

}  // namespace

void fbh_bind_portable(py::module_& m) {
  py::class_<PortableTables, std::shared_ptr<PortableTables>>(m, "PortableTables")
      .def(py::init(&tables_from_points), py::arg("points"), py::arg("threads"))
      .def_readonly("k", &PortableTables::k)
      .def_property_readonly("nbytes",
                             [](const PortableTables& t) { return t.tabs.size() * sizeof(pt::ge); })
      .def("to_array", &table_bytes);
  m.def("portable_encrypt", &encrypt, py::arg("tables"), py::arg("m"), py::arg("ctx"),
        py::arg("count"), py::arg("nonces"), py::arg("threads"));
  m.def("portable_aggregate", &aggregate, py::arg("items"), py::arg("threads"));
  m.def("portable_mul_r", &mul_r, py::arg("sk"), py::arg("points"), py::arg("threads"));
  m.def("portable_verify", &verify, py::arg("points"), py::arg("proof"), py::arg("k"),
        py::arg("ctx"), py::arg("count"), py::arg("threads"));
}
