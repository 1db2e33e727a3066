// Python bindings of the EC-ElGamal core: checks shapes and allocates with the GIL held,
// then releases it around kernels that only see raw pointers. The only file using pybind11.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bsgs.h"
#include "elgamal.h"
#include "batch_ifma.h"
#include "keyset.h"
#include "msm.h"
#include "packed.h"
#include "range_proof.h"
#include "rows.h"
#include "sha256.h"

namespace py = pybind11;
using fbh::u64;

namespace {

using u8_array = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;
using i64_array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

constexpr auto kRow = static_cast<py::ssize_t>(fbh::kRowBytes);

std::string as_string(const py::bytes& b) { return static_cast<std::string>(b); }

void require(bool cond, const char* msg) {
  if (!cond) throw py::value_error(msg);
}

/// Rows argument: uint8[K, 128].
std::size_t require_rows(const u8_array& a) {
  require(a.ndim() == 2 && a.shape(1) == kRow, "ciphertext rows must have shape (K, 128)");
  return static_cast<std::size_t>(a.shape(0));
}

u8_array new_rows(std::size_t k) { return u8_array({static_cast<py::ssize_t>(k), kRow}); }

fbh::scalar scalar_from_bytes(const py::bytes& b, bool nonzero) {
  // Read the Python buffer in place: a std::string copy of a secret would not be wiped.
  char* data = nullptr;
  Py_ssize_t len = 0;
  if (PyBytes_AsStringAndSize(b.ptr(), &data, &len) != 0) throw py::error_already_set();
  require(len == 32, "scalar must be 32 bytes");
  fbh::scalar k;
  const u64 overflow = fbh::scalar_set_b32(&k, reinterpret_cast<const unsigned char*>(data));
  require(!overflow, "scalar must be < n");
  require(!nonzero || !fbh::scalar_is_zero(&k), "scalar must be nonzero");
  return k;
}

py::bytes pub_to_bytes(const fbh::PubKey& pk, bool compressed) {
  unsigned char buf[65];
  if (compressed) {
    fbh::pubkey_serialize(buf, &pk.point());
    return py::bytes(reinterpret_cast<char*>(buf), 33);
  }
  buf[0] = 4;
  fbh::ge_store(buf + 1, &pk.point(), 0);
  return py::bytes(reinterpret_cast<char*>(buf), 65);
}

std::shared_ptr<fbh::PubKey> pub_from_bytes(const py::bytes& b) {
  const std::string s = as_string(b);
  fbh::ge p;
  if (!fbh::pubkey_parse_var(&p, reinterpret_cast<const unsigned char*>(s.data()), s.size())) {
    throw py::value_error("not a valid SEC1 public key on secp256k1");
  }
  return std::make_shared<fbh::PubKey>(p);
}

py::bytes sec_to_bytes(const fbh::SecKey& sk) {
  unsigned char buf[32];
  fbh::scalar_get_b32(buf, &sk.k());
  py::bytes out(reinterpret_cast<char*>(buf), 32);
  fbh::secure_zero(buf, sizeof(buf));
  return out;
}

std::shared_ptr<fbh::PubKey> sec_public(const fbh::SecKey& sk) {
  fbh::ge p;
  fbh::pubkey_from_secret(&p, &sk.k());
  return std::make_shared<fbh::PubKey>(p);
}

py::tuple encrypt(fbh::PubKey& pk, const i64_array& m, const py::object& nonces, int threads,
                  bool ct, bool complete) {
  require(m.ndim() == 1, "plaintexts must be a 1-D int64 array");
  const auto k = static_cast<std::size_t>(m.shape(0));
  u8_array nonce_arr;
  const unsigned char* np = nullptr;
  if (!nonces.is_none()) {
    nonce_arr = nonces.cast<u8_array>();
    require(nonce_arr.ndim() == 2 && nonce_arr.shape(1) == 32 &&
                static_cast<std::size_t>(nonce_arr.shape(0)) == k,
            "nonces must have shape (K, 32)");
    np = nonce_arr.data();
  }
  auto out = new_rows(k);
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = fbh::elgamal_encrypt(out.mutable_data(), pk, m.data(), k, np, threads, ct, complete);
  }
  return py::make_tuple(out, bad);
}

py::tuple decrypt(const fbh::SecKey& sk, const u8_array& rows, const fbh::BsgsTable& t,
                  std::uint64_t bound, int threads, bool ct) {
  const std::size_t k = require_rows(rows);
  i64_array out(static_cast<py::ssize_t>(k));
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = fbh::elgamal_decrypt(out.mutable_data(), sk, rows.data(), k, t, bound, threads, ct);
  }
  return py::make_tuple(out, bad);
}

std::int64_t validate_rows(const u8_array& rows, int threads) {
  const std::size_t k = require_rows(rows);
  py::gil_scoped_release nogil;
  return fbh::points_validate_var(rows.data(), 2 * k, threads);
}

u8_array to_sec1(const u8_array& rows) {
  const std::size_t k = require_rows(rows);
  u8_array out({static_cast<py::ssize_t>(k), py::ssize_t{2}, py::ssize_t{33}});
  py::gil_scoped_release nogil;
  fbh::points_to_sec1(out.mutable_data(), rows.data(), 2 * k);
  return out;
}

py::tuple from_sec1(const u8_array& pts) {
  require(pts.ndim() == 3 && pts.shape(1) == 2 && pts.shape(2) == 33,
          "SEC1 points must have shape (K, 2, 33)");
  const auto k = static_cast<std::size_t>(pts.shape(0));
  auto out = new_rows(k);
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = fbh::points_from_sec1_var(out.mutable_data(), pts.data(), 2 * k);
  }
  return py::make_tuple(out, bad);
}

std::shared_ptr<fbh::BsgsTable> make_table(std::uint64_t baby, int threads) {
  require(baby >= 1 && baby <= fbh::kMaxBabySteps, "baby steps must be in [1, 2^21]");
  auto t = std::make_shared<fbh::BsgsTable>();
  py::gil_scoped_release nogil;
  fbh::bsgs_build(t.get(), baby, threads);
  return t;
}


// ---- packed ciphertexts (fbh.crypto.packed) ----

constexpr auto kPt = static_cast<py::ssize_t>(fbh::kPointBytes);

/// Points argument: uint8[B, k + 1, 64]; returns B.
std::size_t require_blocks(const u8_array& a, std::size_t k) {
  require(a.ndim() == 3 && a.shape(1) == static_cast<py::ssize_t>(k + 1) && a.shape(2) == kPt,
          "block points must have shape (B, k + 1, 64)");
  return static_cast<std::size_t>(a.shape(0));
}

void require_proof(const u8_array& a) {
  require(a.ndim() == 1 && a.shape(0) == static_cast<py::ssize_t>(fbh::kProofBytes),
          "the proof must have shape (96,)");
}

std::string require_digest(const py::bytes& b) {
  std::string s = as_string(b);
  require(s.size() == 32, "context digest must be 32 bytes");
  return s;
}

std::shared_ptr<fbh::PubKeySet> pubset_from_points(const u8_array& pts) {
  require(pts.ndim() == 2 && pts.shape(1) == kPt, "key points must have shape (k, 64)");
  const auto k = static_cast<std::size_t>(pts.shape(0));
  require(k >= 1 && k <= fbh::kMaxSlots, "a key set has 1 to 256 keys");
  std::vector<fbh::ge> p(k);
  for (std::size_t j = 0; j < k; ++j) {
    std::uint8_t inf = 0;
    if (!fbh::ge_load_var(&p[j], &inf, pts.data() + 64 * j, true) || inf) {
      throw py::value_error("key " + std::to_string(j) + " is not a finite point of secp256k1");
    }
    fbh::fe_normalize(&p[j].x);
    fbh::fe_normalize(&p[j].y);
  }
  return std::make_shared<fbh::PubKeySet>(std::move(p));
}

u8_array pubset_points(const fbh::PubKeySet& pk) {
  u8_array out({static_cast<py::ssize_t>(pk.k()), kPt});
  for (std::size_t j = 0; j < pk.k(); ++j) fbh::ge_store(out.mutable_data() + 64 * j, &pk.points()[j], 0);
  return out;
}

std::shared_ptr<fbh::SecKeySet> secset_generate(std::size_t k) {
  require(k >= 1 && k <= fbh::kMaxSlots, "a key set has 1 to 256 keys");
  std::vector<fbh::scalar> s(k);
  for (auto& x : s) fbh::scalar_random(&x);  // independent keys: never derived from each other
  return std::make_shared<fbh::SecKeySet>(std::move(s));
}

std::shared_ptr<fbh::SecKeySet> secset_from_bytes(const py::bytes& b) {
  char* data = nullptr;
  Py_ssize_t len = 0;
  if (PyBytes_AsStringAndSize(b.ptr(), &data, &len) != 0) throw py::error_already_set();
  require(len > 0 && len % 32 == 0 && static_cast<std::size_t>(len / 32) <= fbh::kMaxSlots,
          "a secret key set is 32 bytes per key, 1 to 256 keys");
  const auto k = static_cast<std::size_t>(len / 32);
  std::vector<fbh::scalar> s(k);
  for (std::size_t j = 0; j < k; ++j) {
    const u64 over = fbh::scalar_set_b32(&s[j], reinterpret_cast<const unsigned char*>(data) + 32 * j);
    if (over || fbh::scalar_is_zero(&s[j])) {
      fbh::secure_zero(s.data(), s.size() * sizeof(fbh::scalar));
      throw py::value_error("secret key " + std::to_string(j) + " must be in [1, n - 1]");
    }
  }
  return std::make_shared<fbh::SecKeySet>(std::move(s));
}

py::bytes secset_to_bytes(const fbh::SecKeySet& sk) {
  std::vector<unsigned char> buf(32 * sk.k());
  for (std::size_t j = 0; j < sk.k(); ++j) fbh::scalar_get_b32(buf.data() + 32 * j, &sk.s(j));
  py::bytes out(reinterpret_cast<char*>(buf.data()), static_cast<py::ssize_t>(buf.size()));
  fbh::secure_zero(buf.data(), buf.size());
  return out;
}

std::shared_ptr<fbh::PubKeySet> secset_public(const fbh::SecKeySet& sk) {
  std::vector<fbh::ge> p(sk.k());
  for (std::size_t j = 0; j < sk.k(); ++j) {
    fbh::pubkey_from_secret(&p[j], &sk.s(j));
    fbh::fe_normalize(&p[j].x);
    fbh::fe_normalize(&p[j].y);
  }
  return std::make_shared<fbh::PubKeySet>(std::move(p));
}

py::tuple packed_encrypt(fbh::PubKeySet& pk, const i64_array& m, const py::bytes& ctx,
                         std::uint64_t count, const py::object& nonces, int threads, bool ct) {
  const std::size_t k = pk.k();
  require(m.ndim() == 1 && static_cast<std::size_t>(m.shape(0)) % k == 0,
          "packed plaintexts must be a 1-D int64 array of whole blocks");
  const std::size_t nb = static_cast<std::size_t>(m.shape(0)) / k;
  const std::string c = require_digest(ctx);
  u8_array nonce_arr;
  const unsigned char* np = nullptr;
  if (!nonces.is_none()) {
    nonce_arr = nonces.cast<u8_array>();
    require(nonce_arr.ndim() == 2 && static_cast<std::size_t>(nonce_arr.shape(0)) == nb + 1 &&
                nonce_arr.shape(1) == 32,
            "nonces must have shape (B + 1, 32)");
    np = nonce_arr.data();
  }
  u8_array pts({static_cast<py::ssize_t>(nb), static_cast<py::ssize_t>(k + 1), kPt});
  u8_array proof({static_cast<py::ssize_t>(fbh::kProofBytes)});
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = fbh::packed_encrypt(pts.mutable_data(), proof.mutable_data(), pk, m.data(), nb,
                              reinterpret_cast<const unsigned char*>(c.data()), count, np, threads, ct);
  }
  return py::make_tuple(pts, proof, bad);
}

bool packed_verify(const u8_array& pts, const u8_array& proof, std::size_t k,
                   const py::bytes& ctx, std::uint64_t count, int threads) {
  const std::size_t nb = require_blocks(pts, k);
  require_proof(proof);
  const std::string c = require_digest(ctx);
  py::gil_scoped_release nogil;
  return fbh::packed_verify_var(pts.data(), proof.data(), nb, k,
                                reinterpret_cast<const unsigned char*>(c.data()), count, threads);
}

std::int64_t packed_verify_many(const std::vector<u8_array>& pts,
                                const std::vector<u8_array>& proofs,
                                const std::vector<py::bytes>& ctxs, std::size_t k,
                                std::uint64_t count, int threads) {
  require(!pts.empty() && pts.size() == proofs.size() && pts.size() == ctxs.size(),
          "one proof and one context per blob");
  const std::size_t nb = require_blocks(pts[0], k);
  std::vector<std::string> digests;
  std::vector<const unsigned char*> pp, pr, pc;
  for (std::size_t c = 0; c < pts.size(); ++c) {
    require(require_blocks(pts[c], k) == nb, "all blobs must have the same number of blocks");
    require_proof(proofs[c]);
    digests.push_back(require_digest(ctxs[c]));
    pp.push_back(pts[c].data());
    pr.push_back(proofs[c].data());
  }
  for (const auto& d : digests) pc.push_back(reinterpret_cast<const unsigned char*>(d.data()));
  py::gil_scoped_release nogil;
  return fbh::packed_verify_many_var(pp.data(), pr.data(), pc.data(), pts.size(), nb, k, count,
                                     threads);
}

std::int64_t packed_validate(const u8_array& pts, const py::object& proofs, std::size_t k,
                             int threads) {
  const std::size_t nb = require_blocks(pts, k);
  u8_array pr;
  const unsigned char* pp = nullptr;
  if (!proofs.is_none()) {
    pr = proofs.cast<u8_array>();
    require_proof(pr);
    pp = pr.data();
  }
  py::gil_scoped_release nogil;
  return fbh::packed_validate_var(pts.data(), pp, nb, k, threads);
}

u8_array packed_mul_r(const fbh::SecKeySet& sk, const u8_array& pts, int threads, bool ct) {
  const std::size_t nb = require_blocks(pts, sk.k());
  u8_array out({static_cast<py::ssize_t>(nb), static_cast<py::ssize_t>(sk.k()), kPt});
  py::gil_scoped_release nogil;
  fbh::packed_mul_r(out.mutable_data(), sk, pts.data(), nb, threads, ct);
  return out;
}

py::tuple packed_decrypt(const fbh::SecKeySet& sk, const u8_array& pts, const fbh::BsgsTable& t,
                         std::uint64_t bound, int threads, bool ct) {
  const std::size_t nb = require_blocks(pts, sk.k());
  i64_array out(static_cast<py::ssize_t>(nb * sk.k()));
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = fbh::packed_decrypt(out.mutable_data(), sk, pts.data(), nb, t, bound, threads, ct);
  }
  return py::make_tuple(out, bad);
}

/// Points argument: uint8[..., 64] of any leading shape; returns the number of points.
std::size_t require_points(const u8_array& a) {
  require(a.ndim() >= 1 && a.shape(a.ndim() - 1) == kPt, "points must have a last axis of 64 bytes");
  return static_cast<std::size_t>(a.size()) / 64;
}

u8_array like(const u8_array& a) {
  std::vector<py::ssize_t> shape(a.shape(), a.shape() + a.ndim());
  return u8_array(shape);
}

py::tuple aggregate_points(const std::vector<u8_array>& items, const std::vector<bool>& validate,
                           int threads) {
  require(!items.empty(), "aggregate needs at least one input");
  require(items.size() == validate.size(), "one validate flag per input");
  const std::size_t np = require_points(items[0]);
  std::vector<const unsigned char*> ptrs;
  std::vector<std::uint8_t> val;
  for (std::size_t c = 0; c < items.size(); ++c) {
    require(require_points(items[c]) == np, "all inputs must have the same number of points");
    ptrs.push_back(items[c].data());
    val.push_back(validate[c] ? 1 : 0);
  }
  auto out = like(items[0]);
  std::size_t bad_c = 0;
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = fbh::points_aggregate_var(out.mutable_data(), ptrs.data(), val.data(), ptrs.size(), np,
                                    threads, &bad_c);
  }
  return py::make_tuple(out, bad, bad_c);
}

u8_array scale_points(const u8_array& pts, const py::bytes& k32, int threads) {
  const std::size_t np = require_points(pts);
  const fbh::scalar s = scalar_from_bytes(k32, true);
  auto out = like(pts);
  py::gil_scoped_release nogil;
  fbh::points_scale_var(out.mutable_data(), pts.data(), np, &s, threads);
  return out;
}

u8_array negate_points(const u8_array& pts) {
  const std::size_t np = require_points(pts);
  auto out = like(pts);
  py::gil_scoped_release nogil;
  fbh::points_negate_var(out.mutable_data(), pts.data(), np);
  return out;
}

py::bytes sha256_bytes(const py::bytes& b) {
  const std::string s = as_string(b);
  unsigned char d[32];
  fbh::sha256(d, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  return py::bytes(reinterpret_cast<char*>(d), 32);
}

py::bytes transcript_seed(const py::bytes& ctx, std::uint64_t k, std::uint64_t count,
                          const py::bytes& a, const py::bytes& pts) {
  const std::string c = require_digest(ctx), p = as_string(pts), aa = as_string(a);
  require(k > 0 && p.size() % ((k + 1) * 64) == 0 && aa.size() == 64,
          "blocks must be whole (k + 1) * 64-byte blocks, A 64 bytes");
  unsigned char out[32];
  fbh::packed_transcript_seed(out, reinterpret_cast<const unsigned char*>(c.data()), k, count,
                              reinterpret_cast<const unsigned char*>(aa.data()),
                              reinterpret_cast<const unsigned char*>(p.data()),
                              p.size() / ((k + 1) * 64));
  return py::bytes(reinterpret_cast<char*>(out), 32);
}

py::list batch_coeffs(const py::bytes& seed, std::size_t begin, std::size_t end) {
  const std::string s = require_digest(seed);
  require(begin <= end, "begin must not exceed end");
  std::vector<fbh::scalar> e(end - begin);
  fbh::packed_coeffs(e.data(), reinterpret_cast<const unsigned char*>(s.data()), begin, end);
  py::list out;
  for (const fbh::scalar& x : e) {
    unsigned char b[32];
    fbh::scalar_get_b32(b, &x);
    out.append(py::bytes(reinterpret_cast<char*>(b), 32));
  }
  return out;
}

// ---- internals exposed for tests (tests/crypto/test_core_*.py) ----

py::bytes fe_bytes(const fbh::fe& a) {
  unsigned char b[32];
  fbh::fe_get_b32(b, &a);
  return py::bytes(reinterpret_cast<char*>(b), 32);
}

fbh::fe fe_parse(const py::bytes& b) {
  const std::string s = as_string(b);
  require(s.size() == 32, "field element must be 32 bytes");
  fbh::fe r;
  fbh::fe_set_b32(&r, reinterpret_cast<const unsigned char*>(s.data()));  // may be >= p
  return r;
}

py::object field_op(const std::string& op, const py::bytes& a, const py::bytes& b) {
  fbh::fe x = fe_parse(a), y = fe_parse(b), r;
  if (op == "add") {
    fbh::fe_add(&r, &x, &y);
  } else if (op == "sub") {
    fbh::fe_sub(&r, &x, &y);
  } else if (op == "mul") {
    fbh::fe_mul(&r, &x, &y);
  } else if (op == "sqr") {
    fbh::fe_sqr(&r, &x);
  } else if (op == "neg") {
    fbh::fe_negate(&r, &x);
  } else if (op == "inv") {
    fbh::fe_inv(&r, &x);
  } else if (op == "sqrt") {
    if (!fbh::fe_sqrt(&r, &x)) return py::none();
  } else {
    throw py::value_error("unknown field op");
  }
  return fe_bytes(r);
}

py::bytes scalar_op(const std::string& op, const py::bytes& a, const py::bytes& b) {
  fbh::scalar x = scalar_from_bytes(a, false), y = scalar_from_bytes(b, false), r;
  if (op == "add") {
    fbh::scalar_add(&r, &x, &y);
  } else if (op == "mul") {
    fbh::scalar_mul(&r, &x, &y);
  } else if (op == "neg") {
    fbh::scalar_negate(&r, &x);
  } else {
    throw py::value_error("unknown scalar op");
  }
  unsigned char out[32];
  fbh::scalar_get_b32(out, &r);
  return py::bytes(reinterpret_cast<char*>(out), 32);
}

py::tuple split_lambda(const py::bytes& k32) {
  const fbh::scalar k = scalar_from_bytes(k32, false);
  fbh::scalar k1, k2;
  fbh::scalar_split_lambda(&k1, &k2, &k);
  unsigned char b1[32], b2[32];
  fbh::scalar_get_b32(b1, &k1);
  fbh::scalar_get_b32(b2, &k2);
  return py::make_tuple(py::bytes(reinterpret_cast<char*>(b1), 32),
                        py::bytes(reinterpret_cast<char*>(b2), 32));
}

std::vector<int> recode(const py::bytes& k32, int w, int nd) {
  const fbh::scalar k = scalar_from_bytes(k32, true);
  std::vector<fbh::digit> d(static_cast<std::size_t>(nd));
  fbh::scalar_recode_nonce(d.data(), &k, w, nd);
  std::vector<int> out;
  for (const auto& x : d) out.push_back((x.neg ? -1 : 1) * (2 * x.idx + 1));
  return out;
}

py::object batch_add(const u8_array& acc, const u8_array& q, bool wide) {
  // acc[i] + q[i] by the scalar or the eight-lane batch (test hook); None if a pair shares x.
  require(acc.ndim() == 2 && acc.shape(1) == 64 && q.ndim() == 2 && q.shape(1) == 64 &&
              acc.shape(0) == q.shape(0),
          "acc and q must both have shape (n, 64)");
  const auto n = static_cast<std::size_t>(acc.shape(0));
  std::vector<fbh::ge> a(n), b(n);
  std::vector<fbh::fe> scratch(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint8_t ia = 0, ib = 0;
    require(fbh::ge_load_var(&a[i], &ia, acc.data() + 64 * i, true) && !ia &&
                fbh::ge_load_var(&b[i], &ib, q.data() + 64 * i, true) && !ib,
            "points must be finite and on the curve");
  }
  const u64 ok = wide ? fbh::ge_batch_add_wide(a.data(), b.data(), n, scratch.data())
                      : fbh::ge_batch_add(a.data(), b.data(), n, scratch.data());
  if (!ok) return py::none();
  u8_array out({static_cast<py::ssize_t>(n), py::ssize_t{64}});
  for (std::size_t i = 0; i < n; ++i) fbh::ge_store(out.mutable_data() + 64 * i, &a[i], 0);
  return std::move(out);
}

bool msm_is_infinity(const u8_array& pts, const u8_array& scalars, int threads) {
  // Whether sum_i k_i P_i is infinity (test hook for the verifiers' Pippenger kernel).
  require(pts.ndim() == 2 && pts.shape(1) == 64, "points must have shape (n, 64)");
  require(scalars.ndim() == 2 && scalars.shape(1) == 32 && scalars.shape(0) == pts.shape(0),
          "scalars must have shape (n, 32)");
  const auto n = static_cast<std::size_t>(pts.shape(0));
  std::vector<fbh::ge> p(n);
  std::vector<fbh::scalar> k(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint8_t inf = 0;
    require(fbh::ge_load_var(&p[i], &inf, pts.data() + 64 * i, true) && !inf,
            "points must be finite and on the curve");
    require(!fbh::scalar_set_b32(&k[i], scalars.data() + 32 * i), "scalars must be < n");
  }
  py::gil_scoped_release nogil;
  return fbh::msm_is_infinity_var(p.data(), k.data(), n, threads) != 0;
}

u8_array mul_points(const u8_array& pts, const py::bytes& k32, bool ct, bool complete) {
  // k * P for each 64-byte point, via the batched kernel or the complete ladder.
  require(pts.ndim() == 2 && pts.shape(1) == 64, "points must have shape (P, 64)");
  const auto np = static_cast<std::size_t>(pts.shape(0));
  const fbh::scalar k = scalar_from_bytes(k32, true);
  u8_array out({static_cast<py::ssize_t>(np), py::ssize_t{64}});
  std::vector<fbh::ge> in(np);
  std::vector<std::uint8_t> inf(np);
  for (std::size_t i = 0; i < np; ++i) {
    require(fbh::ge_load_var(&in[i], &inf[i], pts.data() + 64 * i, true) && !inf[i],
            "points must be finite and on the curve");
  }
  if (complete) {
    for (std::size_t i = 0; i < np; ++i) {
      fbh::gep r;
      fbh::ge a;
      fbh::ecmult_const_complete(&r, &in[i], &k);
      const u64 f = fbh::gep_to_ge(&a, &r);
      fbh::ge_store(out.mutable_data() + 64 * i, &a, static_cast<std::uint8_t>(f));
    }
  } else {
    const fbh::SharedDigits kd(k);
    fbh::MulWorkspace ws(np);
    std::vector<fbh::ge> res(np);
    fbh::ecmult_shared_batch(res.data(), inf.data(), in.data(), np, kd, ct, ws);
    for (std::size_t i = 0; i < np; ++i) {
      fbh::ge_store(out.mutable_data() + 64 * i, &res[i], inf[i]);
    }
  }
  return out;
}

}  // namespace

void fbh_bind_threshold(py::module_& m);  // threshold_bindings.cpp
void fbh_bind_portable(py::module_& m);   // portable_bindings.cpp
void bind_range_proof(py::module_& m);  // defined at the end of this file

PYBIND11_MODULE(_ec, m) {
  m.doc() = "fbh EC-ElGamal core on secp256k1 (private: use fbh.crypto)";
  m.attr("ROW_BYTES") = fbh::kRowBytes;
  m.attr("MAX_PLAINTEXT") = fbh::kMaxPlaintext;
  m.attr("MAX_BABY_STEPS") = fbh::kMaxBabySteps;

  py::class_<fbh::PubKey, std::shared_ptr<fbh::PubKey>>(m, "PubKey")
      .def_static("from_bytes", &pub_from_bytes, py::arg("data"))
      .def("to_bytes", &pub_to_bytes, py::arg("compressed") = true);

  py::class_<fbh::SecKey, std::shared_ptr<fbh::SecKey>>(m, "SecKey")
      .def_static("generate",
                  [] {
                    fbh::scalar k;
                    fbh::scalar_random(&k);
                    auto sk = std::make_shared<fbh::SecKey>(k);
                    fbh::secure_zero(&k, sizeof(k));
                    return sk;
                  })
      .def_static("from_bytes",
                  [](const py::bytes& b) {
                    fbh::scalar k = scalar_from_bytes(b, true);
                    auto sk = std::make_shared<fbh::SecKey>(k);
                    fbh::secure_zero(&k, sizeof(k));
                    return sk;
                  })
      .def("to_bytes", &sec_to_bytes)
      .def("public_key", &sec_public);

  py::class_<fbh::BsgsTable, std::shared_ptr<fbh::BsgsTable>>(m, "BsgsTable")
      .def(py::init(&make_table), py::arg("baby"), py::arg("threads"))
      .def_readonly("baby", &fbh::BsgsTable::baby)
      .def_property_readonly("nbytes", [](const fbh::BsgsTable& t) {
        return t.slots.size() * sizeof(std::uint64_t);
      });

  m.def("encrypt", &encrypt, py::arg("pk"), py::arg("m"), py::arg("nonces"), py::arg("threads"),
        py::arg("ct"), py::arg("complete") = false);
  m.def("decrypt", &decrypt, py::arg("sk"), py::arg("rows"), py::arg("table"), py::arg("bound"),
        py::arg("threads"), py::arg("ct"));
  m.def("validate_rows", &validate_rows, py::arg("rows"), py::arg("threads"));
  m.def("to_sec1", &to_sec1, py::arg("rows"));
  m.def("from_sec1", &from_sec1, py::arg("points"));

  m.attr("MAX_SLOTS") = fbh::kMaxSlots;
  m.attr("PROOF_BYTES") = fbh::kProofBytes;
  m.attr("CHALLENGE_TAG") = py::bytes(fbh::kChallengeTag, sizeof(fbh::kChallengeTag) - 1);

  py::class_<fbh::PubKeySet, std::shared_ptr<fbh::PubKeySet>>(m, "PubKeySet")
      .def_static("from_points", &pubset_from_points, py::arg("points"))
      .def_property_readonly("k", &fbh::PubKeySet::k)
      .def("points", &pubset_points);

  py::class_<fbh::SecKeySet, std::shared_ptr<fbh::SecKeySet>>(m, "SecKeySet")
      .def_static("generate", &secset_generate, py::arg("k"))
      .def_static("from_bytes", &secset_from_bytes, py::arg("data"))
      .def_property_readonly("k", &fbh::SecKeySet::k)
      .def("to_bytes", &secset_to_bytes)
      .def("public", &secset_public);

  m.def("packed_encrypt", &packed_encrypt, py::arg("pk"), py::arg("m"), py::arg("ctx"),
        py::arg("count"), py::arg("nonces"), py::arg("threads"), py::arg("ct"));
  m.def("packed_verify", &packed_verify, py::arg("points"), py::arg("proof"), py::arg("k"),
        py::arg("ctx"), py::arg("count"), py::arg("threads"));
  m.def("packed_verify_many", &packed_verify_many, py::arg("points"), py::arg("proofs"),
        py::arg("ctxs"), py::arg("k"), py::arg("count"), py::arg("threads"));
  m.def("packed_validate", &packed_validate, py::arg("points"), py::arg("proof"), py::arg("k"),
        py::arg("threads"));
  m.def("packed_mul_r", &packed_mul_r, py::arg("sk"), py::arg("points"), py::arg("threads"),
        py::arg("ct"));
  m.def("packed_decrypt", &packed_decrypt, py::arg("sk"), py::arg("points"), py::arg("table"),
        py::arg("bound"), py::arg("threads"), py::arg("ct"));
  m.def("aggregate_points", &aggregate_points, py::arg("items"), py::arg("validate"),
        py::arg("threads"));
  m.def("scale_points", &scale_points, py::arg("points"), py::arg("k"), py::arg("threads"));
  m.def("negate_points", &negate_points, py::arg("points"));
  m.def("_sha256", &sha256_bytes);
  m.def("_transcript_seed", &transcript_seed);
  m.def("_batch_coeffs", &batch_coeffs);

  m.def("_field_op", &field_op);
  m.def("_scalar_op", &scalar_op);
  m.def("_split_lambda", &split_lambda);
  m.def("_recode", &recode);
  m.def("_batch_add", &batch_add, py::arg("acc"), py::arg("q"), py::arg("wide"));
  m.def("_ifma_available", &fbh::ifma_available);
  m.def("_ifma_set_scalar_only", &fbh::ifma_set_scalar_only, py::arg("on"));
  m.def("_msm_is_infinity", &msm_is_infinity, py::arg("points"), py::arg("scalars"),
        py::arg("threads"));
  m.def("_mul_points", &mul_points, py::arg("points"), py::arg("k"), py::arg("ct"),
        py::arg("complete"));

  fbh_bind_threshold(m);
  fbh_bind_portable(m);
  bind_range_proof(m);
}

// --- range proofs on packed slots (range_proof.h) ---------------------------------------------
namespace {

using u64_array = py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast>;

std::size_t require_items(const u8_array& keys, const u8_array& rs, const u8_array& cs,
                          const u64_array& blocks, const u64_array& slots, std::int64_t bound) {
  require(bound >= 1 && bound <= fbh::kRangeMaxBound, "range proofs take bounds 1..2^47 - 1");
  const auto n = keys.ndim() == 2 ? keys.shape(0) : -1;
  for (const u8_array* a : {&keys, &rs, &cs}) {
    require(a->ndim() == 2 && a->shape(0) == n && a->shape(1) == 64, "keys, R and C must be uint8[S, 64]");
  }
  require(blocks.ndim() == 1 && blocks.shape(0) == n && slots.ndim() == 1 && slots.shape(0) == n,
          "blocks and slots must be uint64[S]");
  return static_cast<std::size_t>(n);
}

py::tuple range_prove_py(fbh::PubKeySet& pk, const py::bytes& ctx, const u8_array& keys, const u8_array& rs,
                         const u8_array& cs, const i64_array& m, const u8_array& nonces,
                         const u64_array& blocks, const u64_array& slots, std::int64_t bound, int threads) {
  const std::size_t n = require_items(keys, rs, cs, blocks, slots, bound);
  require(m.ndim() == 1 && static_cast<std::size_t>(m.shape(0)) == n, "values must be int64[S]");
  require(nonces.ndim() == 2 && static_cast<std::size_t>(nonces.shape(0)) == n && nonces.shape(1) == 32,
          "nonces must be uint8[S, 32]");
  const std::string c = as_string(ctx);
  const auto pb = static_cast<py::ssize_t>(fbh::range_proof_bytes(fbh::range_bits(bound)));
  u8_array out({static_cast<py::ssize_t>(n), pb});
  std::int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = fbh::range_prove(out.mutable_data(), n, bound, reinterpret_cast<const unsigned char*>(c.data()),
                           c.size(), pk, rs.data(), cs.data(), m.data(), nonces.data(),
                           blocks.data(), slots.data(), threads);
  }
  return py::make_tuple(out, bad);
}

std::int64_t range_verify_py(const py::bytes& ctx, const u8_array& keys, const u8_array& rs,
                             const u8_array& cs, const u8_array& proofs, const u64_array& blocks,
                             const u64_array& slots, std::int64_t bound, int threads) {
  const std::size_t n = require_items(keys, rs, cs, blocks, slots, bound);
  require(proofs.ndim() == 2 && static_cast<std::size_t>(proofs.shape(0)) == n &&
              static_cast<std::size_t>(proofs.shape(1)) == fbh::range_proof_bytes(fbh::range_bits(bound)),
          "proofs must be uint8[S, range_proof_bytes(range_bits(bound))]");
  const std::string c = as_string(ctx);
  py::gil_scoped_release nogil;
  return fbh::range_verify_var(proofs.data(), n, bound, reinterpret_cast<const unsigned char*>(c.data()),
                               c.size(), keys.data(), rs.data(), cs.data(), blocks.data(), slots.data(),
                               threads);
}

}  // namespace

void bind_range_proof(py::module_& m) {
  m.attr("RANGE_MAX_BITS") = fbh::kRangeMaxBits;
  m.attr("RANGE_MAX_BOUND") = fbh::kRangeMaxBound;
  m.def("range_proof_bytes", [](int bits) { return fbh::range_proof_bytes(bits); });
  m.def("range_bits", [](std::int64_t bound) { return fbh::range_bits(bound); });
  m.def("range_generator_h", [] {
    unsigned char out[64];
    fbh::ge_store(out, &fbh::range_generator_h(), 0);
    return py::bytes(reinterpret_cast<const char*>(out), 64);
  });
  m.def("range_prove", &range_prove_py, py::arg("pk"), py::arg("ctx"), py::arg("keys"), py::arg("rs"), py::arg("cs"),
        py::arg("m"), py::arg("nonces"), py::arg("blocks"), py::arg("slots"), py::arg("bound"),
        py::arg("threads"));
  m.def("range_verify", &range_verify_py, py::arg("ctx"), py::arg("keys"), py::arg("rs"), py::arg("cs"),
        py::arg("proofs"), py::arg("blocks"), py::arg("slots"), py::arg("bound"), py::arg("threads"));
}
