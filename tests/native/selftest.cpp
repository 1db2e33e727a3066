// Self-test of the C++ core without Python: known-answer vectors read from stdin, then
// property checks. Built natively and cross-compiled for aarch64 (run under qemu-user) by
// tests/native/test_native_core.py, so the portable field arithmetic (5 x 52-bit limbs,
// unsigned __int128) is checked on a second architecture. Uses only the stable primitives
// (field, scalar, group, ecmult, bsgs); ElGamal is assembled from them here.
//
// Vector lines (hex; "00" is the point at infinity, points are SEC1 compressed):
//   mulg K RESULT            K * G
//   add A B RESULT           A + B
//   mul K P RESULT           K * P
//   enc SK M R C1 C2         C1 = R G, C2 = M G + R (SK G), and C2 - SK C1 decodes to M
// Prints one line per failure and a summary; exits 1 on any failure.
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bsgs.h"
#include "ecmult.h"
#include "elgamal.h"
#include "field.h"
#include "group.h"
#include "portable/driver.h"
#include "portable/kernels.h"
#include "scalar.h"
#include "sha256.h"

using namespace fbh;

namespace {

int g_checks = 0, g_failures = 0;

void check(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    std::printf("FAIL %s\n", what.c_str());
  }
}

std::vector<unsigned char> unhex(const std::string& s) {
  std::vector<unsigned char> out(s.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<unsigned char>(std::stoul(s.substr(2 * i, 2), nullptr, 16));
  return out;
}

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

scalar scalar_hex(const std::string& s) {
  scalar k;
  scalar_set_b32(&k, unhex(s).data());  // reduces mod n (n itself becomes 0)
  return k;
}

scalar scalar_int(std::int64_t m) {
  unsigned char b[32] = {0};
  const std::uint64_t a = static_cast<std::uint64_t>(m < 0 ? -m : m);
  for (int i = 0; i < 8; ++i) b[31 - i] = static_cast<unsigned char>(a >> (8 * i));
  scalar k;
  scalar_set_b32(&k, b);
  if (m < 0) scalar_negate(&k, &k);
  return k;
}

/// A point as SEC1 compressed hex, "00" for infinity.
std::string ser(const gep& p) {
  ge a;
  if (gep_to_ge(&a, &p)) return "00";
  fe_normalize(&a.x);
  fe_normalize(&a.y);
  unsigned char out[33];
  pubkey_serialize(out, &a);
  return hex(out, 33);
}

gep parse(const std::string& s) {
  gep r;
  if (s == "00") {
    gep_set_infinity(&r);
    return r;
  }
  const auto b = unhex(s);
  ge a;
  if (!pubkey_parse_var(&a, b.data(), b.size())) {
    check(false, "parse " + s);
    gep_set_infinity(&r);
    return r;
  }
  gep_set_ge(&r, &a);
  return r;
}

gep mul(const gep& p, const scalar& k) {
  ge a;
  gep r;
  if (gep_to_ge(&a, &p)) {
    gep_set_infinity(&r);
    return r;
  }
  ecmult_const_complete(&r, &a, &k);
  return r;
}

gep generator() {
  gep g;
  gep_set_ge(&g, &ge_generator());
  return g;
}

gep add(const gep& a, const gep& b) {
  gep r;
  gep_add(&r, &a, &b);
  return r;
}

/// k * p by the batched GLV path used for decryption, ct or fast mode (p finite).
std::string mul_batched(const gep& p, const scalar& k, bool ct) {
  ge a, out;
  if (gep_to_ge(&a, &p)) return "00";
  std::uint8_t inf = 0;
  SharedDigits digits(k);
  MulWorkspace ws(1);
  ecmult_shared_batch(&out, &inf, &a, 1, digits, ct, ws);
  if (inf) return "00";
  gep r;
  gep_set_ge(&r, &out);
  return ser(r);
}

void run_vector(const std::string& line, const BsgsTable& table) {
  std::istringstream in(line);
  std::string op;
  in >> op;
  if (op == "mulg") {
    std::string k, want;
    in >> k >> want;
    const scalar s = scalar_hex(k);
    check(ser(mul(generator(), s)) == want, "mulg " + k);
    if (!scalar_is_zero(&s)) {
      ge pub;
      pubkey_from_secret(&pub, &s);
      gep r;
      gep_set_ge(&r, &pub);
      check(ser(r) == want, "pubkey_from_secret " + k);
    }
  } else if (op == "add") {
    std::string a, b, want;
    in >> a >> b >> want;
    check(ser(add(parse(a), parse(b))) == want, "add " + a + " " + b);
  } else if (op == "mul") {
    std::string k, p, want;
    in >> k >> p >> want;
    const scalar s = scalar_hex(k);
    check(ser(mul(parse(p), s)) == want, "mul " + k);
    if (!scalar_is_zero(&s) && p != "00") {
      check(mul_batched(parse(p), s, true) == want, "mul batched ct " + k);
      check(mul_batched(parse(p), s, false) == want, "mul batched fast " + k);
    }
  } else if (op == "enc") {
    std::string sk, r, c1, c2;
    std::int64_t m = 0;
    in >> sk >> m >> r >> c1 >> c2;
    const scalar x = scalar_hex(sk), nonce = scalar_hex(r);
    const gep pk = mul(generator(), x);
    const gep got1 = mul(generator(), nonce);
    const gep got2 = add(mul(generator(), scalar_int(m)), mul(pk, nonce));
    check(ser(got1) == c1 && ser(got2) == c2, "enc m=" + std::to_string(m));
    // Decrypt: m G = C2 - sk C1, decoded by baby-step giant-step.
    scalar neg;
    scalar_negate(&neg, &x);
    const gep mg = add(parse(c2), mul(parse(c1), neg));
    ge p;
    std::uint8_t inf = static_cast<std::uint8_t>(gep_to_ge(&p, &mg));
    std::int64_t got = -1;
    const std::int64_t bad = bsgs_decode_var(&got, table, &p, &inf, 1, 1u << 20);
    const bool in_range = m >= -(1 << 20) && m <= (1 << 20);
    check(in_range ? (bad == -1 && got == m) : bad == 0, "dec m=" + std::to_string(m));
  } else if (!op.empty()) {
    check(false, "unknown vector op " + op);
  }
}

// --- property checks on a deterministic pseudo-random stream (splitmix64) ---

std::uint64_t g_state = 0x853c49e6748fea9bULL;
std::uint64_t next64() {
  std::uint64_t z = (g_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void random_b32(unsigned char* b) {
  for (int i = 0; i < 32; i += 8) {
    const std::uint64_t v = next64();
    for (int j = 0; j < 8; ++j) b[i + j] = static_cast<unsigned char>(v >> (8 * j));
  }
}

fe random_fe() {
  unsigned char b[32];
  fe r;
  do random_b32(b);
  while (!fe_set_b32(&r, b));
  return r;
}

scalar random_scalar() {
  unsigned char b[32];
  random_b32(b);
  scalar k;
  scalar_set_b32(&k, b);
  return k;
}

bool fe_eq(const fe& a, const fe& b) { return fe_equal(&a, &b) == 1; }

void field_properties(int n) {
  fe one;
  fe_set_int(&one, 1);
  for (int i = 0; i < n; ++i) {
    const fe a = random_fe(), b = random_fe(), c = random_fe();
    fe ab, bc, ab_c, a_bc, s, as, l, r1, r2, t, inv, sq, root, root2;
    fe_mul(&ab, &a, &b);
    fe_mul(&bc, &b, &c);
    fe_mul(&ab_c, &ab, &c);
    fe_mul(&a_bc, &a, &bc);
    check(fe_eq(ab_c, a_bc), "fe_mul associative");
    fe_add(&s, &b, &c);
    fe_mul(&l, &a, &s);
    fe_mul(&r1, &a, &b);
    fe_mul(&r2, &a, &c);
    fe_add(&t, &r1, &r2);
    check(fe_eq(l, t), "fe_mul distributes over fe_add");
    fe_sub(&as, &s, &c);
    check(fe_eq(as, b), "fe_sub inverts fe_add");
    fe_sqr(&sq, &a);
    fe_mul(&t, &a, &a);
    check(fe_eq(sq, t), "fe_sqr == fe_mul(a, a)");
    fe_inv(&inv, &a);
    fe_mul(&t, &inv, &a);
    check(fe_eq(t, one), "fe_inv");
    check(fe_sqrt(&root, &sq) == 1, "fe_sqrt of a square");
    fe_sqr(&root2, &root);
    check(fe_eq(root2, sq), "fe_sqrt squares back");
    unsigned char b32[32];
    fe_get_b32(b32, &a);
    fe back;
    check(fe_set_b32(&back, b32) == 1 && fe_eq(back, a), "fe b32 round trip");
  }
}

void group_properties(int n) {
  const gep g = generator();
  for (int i = 0; i < n; ++i) {
    const scalar a = random_scalar(), b = random_scalar();
    scalar s, p;
    scalar_add(&s, &a, &b);
    scalar_mul(&p, &a, &b);
    check(ser(mul(g, s)) == ser(add(mul(g, a), mul(g, b))), "(a + b) G == a G + b G");
    check(ser(mul(g, p)) == ser(mul(mul(g, b), a)), "(a b) G == a (b G)");
  }
}

void batch_properties(std::size_t n) {
  // n random points times one shared scalar, batched (ct and fast) against one at a time.
  std::vector<ge> in(n), out(n);
  std::vector<std::string> want(n);
  const scalar k = random_scalar();
  for (std::size_t i = 0; i < n; ++i) {
    const gep p = mul(generator(), random_scalar());
    gep_to_ge(&in[i], &p);
    want[i] = ser(mul(p, k));
  }
  for (const bool ct : {true, false}) {
    std::vector<std::uint8_t> inf(n);
    SharedDigits digits(k);
    MulWorkspace ws(n);
    ecmult_shared_batch(out.data(), inf.data(), in.data(), n, digits, ct, ws);
    for (std::size_t i = 0; i < n; ++i) {
      gep r;
      gep_set_ge(&r, &out[i]);
      check(!inf[i] && ser(r) == want[i], std::string("ecmult_shared_batch ") + (ct ? "ct" : "fast"));
    }
  }
  // Batched affine addition with every special case: P + Q, P + P, P + (-P), inf + Q, P + inf.
  std::vector<ge> acc(5), q(5);
  std::vector<std::uint8_t> acc_inf(5, 0), q_inf(5, 0);
  std::vector<std::string> sums(5);
  const gep p = mul(generator(), random_scalar()), r = mul(generator(), random_scalar());
  gep_to_ge(&acc[0], &p), gep_to_ge(&q[0], &r);
  gep_to_ge(&acc[1], &p), gep_to_ge(&q[1], &p);
  gep_to_ge(&acc[2], &p), gep_to_ge(&q[2], &p), ge_negate(&q[2], &q[2]);
  acc_inf[3] = 1, gep_to_ge(&acc[3], &p), gep_to_ge(&q[3], &r);
  gep_to_ge(&acc[4], &p), q_inf[4] = 1, gep_to_ge(&q[4], &r);
  sums = {ser(add(p, r)), ser(add(p, p)), "00", ser(r), ser(p)};
  std::vector<fe> scratch(5);
  std::vector<std::uint32_t> idx(5);
  ge_batch_add_var(acc.data(), acc_inf.data(), q.data(), q_inf.data(), 5, scratch.data(), idx.data());
  for (std::size_t i = 0; i < 5; ++i) {
    gep got;
    if (acc_inf[i]) gep_set_infinity(&got); else gep_set_ge(&got, &acc[i]);
    check(ser(got) == sums[i], "ge_batch_add_var case " + std::to_string(i));
  }
}

void bsgs_exhaustive(const BsgsTable& table, std::int64_t bound) {
  // Every m in [-bound, bound] decodes (giant steps beyond the table), and bound + 1 does not.
  const std::size_t n = static_cast<std::size_t>(2 * bound + 2);
  std::vector<ge> pts(n);
  std::vector<std::uint8_t> inf(n);
  std::vector<std::int64_t> out(n);
  gep acc;
  gep_set_infinity(&acc);
  const gep g = generator();
  gep start = mul(g, scalar_int(-bound));
  acc = start;
  for (std::size_t i = 0; i < n; ++i) {
    inf[i] = static_cast<std::uint8_t>(gep_to_ge(&pts[i], &acc));
    acc = add(acc, g);
  }
  const std::int64_t bad = bsgs_decode_var(out.data(), table, pts.data(), inf.data(), n - 1,
                                           static_cast<std::uint64_t>(bound));
  check(bad == -1, "bsgs decodes every m in [-bound, bound]");
  bool all = true;
  for (std::size_t i = 0; i + 1 < n; ++i) all = all && out[i] == -bound + static_cast<std::int64_t>(i);
  check(all, "bsgs decoded values");
  std::int64_t one = 0;
  const std::int64_t over = bsgs_decode_var(&one, table, &pts[n - 1], &inf[n - 1], 1,
                                            static_cast<std::uint64_t>(bound));
  check(over == 0, "bsgs refuses bound + 1");
}

/// 64-byte x || y serialization of p (zeros for infinity), the kernels' row format.
std::string row(const gep& p) {
  ge a;
  unsigned char b[64];
  const u64 inf = gep_to_ge(&a, &p);
  ge_store(b, &a, static_cast<std::uint8_t>(inf));
  return std::string(reinterpret_cast<char*>(b), 64);
}

std::string row(const portable::gej& p) {
  unsigned char b[64];
  portable::gej_store(b, &p);
  return std::string(reinterpret_cast<char*>(b), 64);
}

/// The GPU's portable arithmetic (csrc/portable/) against the main core, same inputs.
void portable_properties(int n) {
  namespace pt = fbh::portable;
  const pt::ge* tab_g = pt::generator_table();
  for (int i = 0; i < n; ++i) {
    unsigned char a32[32], b32[32], ma[32], pa[32];
    fe a = random_fe(), b = random_fe(), prod;
    fe_get_b32(a32, &a);
    fe_get_b32(b32, &b);
    fe_mul(&prod, &a, &b);
    fe_get_b32(ma, &prod);
    pt::fe pa_fe, pb_fe, pp_fe;
    pt::fe_set_b32(&pa_fe, a32);
    pt::fe_set_b32(&pb_fe, b32);
    pt::fe_mul(&pp_fe, &pa_fe, &pb_fe);
    pt::fe_get_b32(pa, &pp_fe);
    check(std::string(reinterpret_cast<char*>(ma), 32) == std::string(reinterpret_cast<char*>(pa), 32),
          "portable fe_mul");
    scalar s = random_scalar(), k = random_scalar(), sk;
    scalar_mul(&sk, &s, &k);
    unsigned char s32[32], k32[32];
    scalar_get_b32(s32, &s);
    scalar_get_b32(k32, &k);
    pt::scalar ps, pk, psk;
    pt::scalar_set_b32(&ps, s32);
    pt::scalar_set_b32(&pk, k32);
    pt::scalar_mul(&psk, &ps, &pk);
    scalar_get_b32(ma, &sk);
    pt::scalar_get_b32(pa, &psk);
    check(std::string(reinterpret_cast<char*>(ma), 32) == std::string(reinterpret_cast<char*>(pa), 32),
          "portable scalar_mul");
    if (i % 5 != 0) continue;  // point multiplications are slow under qemu
    pt::gej sg, p, kp;
    pt::ecmult_fixed(&sg, tab_g, ps.d, pt::kWindows);
    const gep main_sg = mul(generator(), s);
    check(row(sg) == row(main_sg), "portable ecmult_fixed s G");
    pt::ecmult_var(&kp, &sg, &pk);
    check(row(kp) == row(mul(main_sg, k)), "portable ecmult_var k (s G)");
    pt::gej_add(&p, &kp, &sg);
    check(row(p) == row(add(mul(main_sg, k), main_sg)), "portable gej_add");
    Sha256 h;
    h.update(a32, 32);
    h.finish(ma);
    pt::sha256 ph;
    pt::sha256_init(&ph);
    pt::sha256_update(&ph, a32, 32);
    pt::sha256_finish(&ph, pa);
    check(std::string(reinterpret_cast<char*>(ma), 32) == std::string(reinterpret_cast<char*>(pa), 32),
          "portable sha256");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 50;
  BsgsTable table, small;
  bsgs_build(&table, 1024, 1);
  bsgs_build(&small, 16, 1);
  std::string line;
  int vectors = 0;
  while (std::getline(std::cin, line)) {
    if (line.empty() || line[0] == '#') continue;
    run_vector(line, table);
    ++vectors;
  }
  field_properties(10 * rounds);
  group_properties(rounds);
  batch_properties(static_cast<std::size_t>(rounds));
  bsgs_exhaustive(small, 300);
  portable_properties(rounds);
  std::printf("%s: %d vectors, %d checks, %d failures\n", g_failures ? "FAILED" : "ok", vectors, g_checks,
              g_failures);
  return g_failures ? 1 : 0;
}
