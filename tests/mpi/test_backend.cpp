// MPI tests of src/mpi_backend/communicator.hpp: the duplicated, move-only
// communicator, typed collectives, counters and collective error agreement.
// Every rank reaches every collective whatever an assertion finds: only EXPECT_* is
// used before a collective, never ASSERT_* (which would return early and hang the rest).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "mpi/test_support.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/errors.hpp"

namespace spartanxx::backend {
namespace {

using spartanxx_test::world_rank;
using spartanxx_test::world_size;

static_assert(!std::is_copy_constructible_v<Communicator>, "Communicator must not be copyable");
static_assert(!std::is_copy_assignable_v<Communicator>, "Communicator must not be copy-assignable");
static_assert(std::is_nothrow_move_constructible_v<Communicator>, "Communicator moves must not throw");
static_assert(std::is_nothrow_move_assignable_v<Communicator>, "Communicator moves must not throw");
static_assert(std::is_nothrow_destructible_v<Communicator>, "destructors never throw");

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }



// ---------------------------------------------------------------------------------
// Construction, ownership
// ---------------------------------------------------------------------------------

TEST(BackendComm, DuplicatesWorld) {
  Communicator c(MPI_COMM_WORLD);
  EXPECT_NE(c.native(), MPI_COMM_WORLD);
  EXPECT_NE(c.native(), MPI_COMM_NULL);
  int cmp = MPI_UNEQUAL;
  MPI_Comm_compare(c.native(), MPI_COMM_WORLD, &cmp);
  EXPECT_EQ(cmp, MPI_CONGRUENT);  // same group and order, a different context
  EXPECT_EQ(c.rank(), world_rank());
  EXPECT_EQ(c.size(), world_size());
  // A second communicator is a second duplicate.
  Communicator d(MPI_COMM_WORLD);
  EXPECT_NE(d.native(), c.native());
  const Counters& k = c.counters();
  EXPECT_EQ(k.bytes_sent, 0);
  EXPECT_EQ(k.bytes_received, 0);
}

TEST(BackendComm, MessagesOnWorldDoNotMixWithTheDuplicate) {
  // A message sent on MPI_COMM_WORLD with some tag must not be received on the
  // duplicate with the same tag and source: the duplicate has its own context.
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  const int to = (me + 1) % n, from = (me + n - 1) % n;
  int world_payload = 1000 + me, dup_payload = 2000 + me;
  int got_world = -1, got_dup = -1;
  MPI_Request reqs[4];
  // Post the duplicate's receive first; a leak across communicators would match the
  // world message into it.
  MPI_Irecv(&got_dup, 1, MPI_INT, from, 7, c.native(), &reqs[0]);
  MPI_Isend(&world_payload, 1, MPI_INT, to, 7, MPI_COMM_WORLD, &reqs[1]);
  MPI_Irecv(&got_world, 1, MPI_INT, from, 7, MPI_COMM_WORLD, &reqs[2]);
  MPI_Isend(&dup_payload, 1, MPI_INT, to, 7, c.native(), &reqs[3]);
  MPI_Waitall(4, reqs, MPI_STATUSES_IGNORE);
  EXPECT_EQ(got_world, 1000 + from);
  EXPECT_EQ(got_dup, 2000 + from);
}

TEST(BackendComm, MoveConstructor) {
  Communicator a(MPI_COMM_WORLD);
  const MPI_Comm handle = a.native();
  Communicator b(std::move(a));
  EXPECT_EQ(b.native(), handle);
  EXPECT_EQ(b.rank(), world_rank());
  EXPECT_EQ(b.size(), world_size());
  // The source no longer owns the handle (else both destructors would free it).
  EXPECT_NE(a.native(), handle);  // NOLINT(bugprone-use-after-move)
  // The moved-to communicator works.
  EXPECT_EQ(b.allreduce<std::int64_t>(1, ReduceOp::sum), world_size());
  // Leaving the scope destroys both: the moved-from one must be harmless.
}

TEST(BackendComm, MoveAssignment) {
  Communicator a(MPI_COMM_WORLD);
  Communicator b(MPI_COMM_WORLD);
  const MPI_Comm ha = a.native();
  b = std::move(a);  // b's own duplicate is released, a's handle moves over
  EXPECT_EQ(b.native(), ha);
  EXPECT_NE(a.native(), ha);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.allreduce<std::int64_t>(2, ReduceOp::sum), 2 * world_size());
  // A moved-from communicator can be assigned to again.
  a = Communicator(MPI_COMM_WORLD);
  EXPECT_EQ(a.allreduce<std::int64_t>(3, ReduceOp::sum), 3 * world_size());
}

TEST(BackendComm, ManyCommunicatorsDoNotLeak) {
  // Creating and destroying many duplicates exhausts no context ids.
  for (int i = 0; i < 3000; ++i) {
    Communicator c(MPI_COMM_WORLD);
    if (i % 500 == 0) c.barrier();
  }
  Communicator c(MPI_COMM_WORLD);
  EXPECT_EQ(c.allreduce<std::int32_t>(1, ReduceOp::sum), world_size());
}

TEST(BackendComm, CheckThrowsMpiError) {
  EXPECT_NO_THROW(check(MPI_SUCCESS, "MPI_Nothing"));
  try {
    check(MPI_ERR_COMM, "MPI_Something");
    ADD_FAILURE() << "check did not throw";
  } catch (const spartanxx::mpi_error& e) {
    EXPECT_NE(std::string(e.what()).find("MPI_Something"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------
// Collectives
// ---------------------------------------------------------------------------------

struct Pod {
  std::int32_t a;
  double b;
  char c[5];
};

TEST(BackendCollectives, Broadcast) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  for (int root : {0, n - 1, n / 2}) {
    std::vector<double> d(17);
    for (int i = 0; i < 17; ++i) d[i] = me == root ? 0.5 * i + root : -1.0;
    c.broadcast(d.data(), d.size(), root);
    for (int i = 0; i < 17; ++i) EXPECT_EQ(d[i], 0.5 * i + root) << "root " << root << " i " << i;

    std::int64_t big = me == root ? (std::int64_t{1} << 40) + root : 0;
    c.broadcast(&big, 1, root);
    EXPECT_EQ(big, (std::int64_t{1} << 40) + root);

    Pod p{};
    if (me == root) p = Pod{-7, 3.25, {'a', 'b', 'c', 'd', '\0'}};
    c.broadcast(&p, 1, root);
    EXPECT_EQ(p.a, -7);
    EXPECT_EQ(p.b, 3.25);
    EXPECT_STREQ(p.c, "abcd");

    // zero items: a no-op that still matches on every rank
    c.broadcast(d.data(), 0, root);
  }
}

template <class T>
void check_allreduce_scalar(Communicator& c) {
  const int me = c.rank(), n = c.size();
  // values 1..n (small enough for uint8 sums at up to 4 ranks)
  EXPECT_EQ(c.allreduce<T>(static_cast<T>(me + 1), ReduceOp::sum), static_cast<T>(n * (n + 1) / 2));
  EXPECT_EQ(c.allreduce<T>(static_cast<T>(me + 1), ReduceOp::min), static_cast<T>(1));
  EXPECT_EQ(c.allreduce<T>(static_cast<T>(me + 1), ReduceOp::max), static_cast<T>(n));
  // the extreme is on a middle rank
  const int special = n / 2;
  const T v = static_cast<T>(me == special ? 0 : 9);
  EXPECT_EQ(c.allreduce<T>(v, ReduceOp::min), static_cast<T>(0));
  const T w = static_cast<T>(me == special ? 50 : 9);
  EXPECT_EQ(c.allreduce<T>(w, ReduceOp::max), static_cast<T>(50));
}

TEST(BackendCollectives, AllreduceScalars) {
  Communicator c(MPI_COMM_WORLD);
  check_allreduce_scalar<double>(c);
  check_allreduce_scalar<float>(c);
  check_allreduce_scalar<std::int32_t>(c);
  check_allreduce_scalar<std::int64_t>(c);
  check_allreduce_scalar<std::uint64_t>(c);
  check_allreduce_scalar<std::uint8_t>(c);
}

/// reduce_scatter_sum of parts `part(r)` items long (rank r's), every rank contributing
/// value(rank, global index): checked against the sum written out here, and the counters.
template <class T>
void check_reduce_scatter(Communicator& c, std::int64_t (*part)(int)) {
  const int me = c.rank(), n = c.size();
  std::vector<std::int64_t> counts(static_cast<std::size_t>(n));
  std::int64_t total = 0, offset = 0;
  for (int r = 0; r < n; ++r) {
    counts[static_cast<std::size_t>(r)] = part(r);
    if (r < me) offset += part(r);
    total += part(r);
  }
  auto value = [](int rank, std::int64_t i) { return static_cast<T>((i * 7 + rank * 13) % 101) - static_cast<T>(50); };
  std::vector<T> send(static_cast<std::size_t>(total));
  for (std::int64_t i = 0; i < total; ++i) send[static_cast<std::size_t>(i)] = value(me, i);
  std::vector<T> got(static_cast<std::size_t>(part(me)), static_cast<T>(-1));
  const Counters before = c.counters();
  c.reduce_scatter_sum(send.data(), got.data(), counts);
  std::int64_t wrong = 0;
  for (std::int64_t i = 0; i < part(me); ++i) {
    T want = 0;
    for (int r = 0; r < n; ++r) want += value(r, offset + i);
    wrong += got[static_cast<std::size_t>(i)] != want;
  }
  EXPECT_EQ(wrong, 0) << "reduce_scatter_sum of " << total << " items: " << wrong << " wrong on rank " << me;
  const std::int64_t e = static_cast<std::int64_t>(sizeof(T));
  EXPECT_EQ(c.counters().bytes_sent - before.bytes_sent, n > 1 ? (total - part(me)) * e : 0);
  EXPECT_EQ(c.counters().bytes_received - before.bytes_received, n > 1 ? (n - 1) * part(me) * e : 0);
}

// Small parts go through MPI_Reduce_scatter, large ones (>= 256 KiB on average) through
// paired send-receives: both, with uneven parts and an empty one.
TEST(BackendCollectives, ReduceScatterSumSmallAndLargeParts) {
  Communicator c(MPI_COMM_WORLD);
  const int n = c.size();
  EXPECT_FALSE(c.pairwise_pays(std::vector<std::int64_t>(static_cast<std::size_t>(n), 5), 8));
  EXPECT_EQ(c.pairwise_pays(std::vector<std::int64_t>(static_cast<std::size_t>(n), 40000), 8), n > 1);
  check_reduce_scatter<double>(c, [](int r) -> std::int64_t { return 3 + r; });
  check_reduce_scatter<double>(c, [](int r) -> std::int64_t { return 40000 + 1237 * r; });
  check_reduce_scatter<std::int64_t>(c, [](int r) -> std::int64_t { return r == 1 ? 0 : 70001 + r; });
  check_reduce_scatter<float>(c, [](int r) -> std::int64_t { return 90000 - 3 * r; });
  check_reduce_scatter<std::int32_t>(c, [](int r) -> std::int64_t { return 65536 + r; });
}

// Node-shared segments: every rank writes its own, and after a fence reads the others'.
// SPARTANXX_NODE_SHARED=0 on one rank only turns them off on every rank.
TEST(BackendCollectives, NodeSharedSegments) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  const std::size_t count = 1000 + 3;
  for (int round = 0; round < 2; ++round) {
    const auto& seg = c.node_segments(count * sizeof(std::int64_t) * (round + 1));  // the second call grows them
    // The test ranks run on one node; every rank sees the same size, so all stop together.
    ASSERT_EQ(seg.size(), static_cast<std::size_t>(n));
    auto* mine = reinterpret_cast<std::int64_t*>(seg[static_cast<std::size_t>(me)]);
    for (std::size_t i = 0; i < count; ++i) mine[i] = me * 1000003 + static_cast<std::int64_t>(i) + round;
    c.node_fence();
    std::int64_t wrong = 0;
    for (int r = 0; r < n; ++r) {
      const auto* theirs = reinterpret_cast<const std::int64_t*>(seg[static_cast<std::size_t>(r)]);
      for (std::size_t i = 0; i < count; ++i) wrong += theirs[i] != r * 1000003 + static_cast<std::int64_t>(i) + round;
    }
    EXPECT_EQ(wrong, 0) << "round " << round << " on rank " << me;
    c.node_fence();
  }
  c.set_node_sharing(false);
  EXPECT_TRUE(c.node_segments(64).empty());
  c.set_node_sharing(true);
  EXPECT_EQ(c.node_segments(64).size(), static_cast<std::size_t>(n));

  if (me == 0) setenv("SPARTANXX_NODE_SHARED", "0", 1);
  Communicator d(MPI_COMM_WORLD);
  EXPECT_TRUE(d.node_segments(64).empty()) << "rank " << me;
  if (me == 0) unsetenv("SPARTANXX_NODE_SHARED");
}

TEST(BackendCollectives, AllreduceNegativeAndLarge) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  EXPECT_EQ(c.allreduce<std::int32_t>(-(me + 1), ReduceOp::min), -n);
  EXPECT_EQ(c.allreduce<std::int32_t>(-(me + 1), ReduceOp::max), -1);
  EXPECT_EQ(c.allreduce<std::int32_t>(-(me + 1), ReduceOp::sum), -n * (n + 1) / 2);
  const std::int64_t big = std::int64_t{1} << 40;
  EXPECT_EQ(c.allreduce<std::int64_t>(big * (me + 1), ReduceOp::sum), big * n * (n + 1) / 2);
  EXPECT_EQ(c.allreduce<double>(-0.5 * me, ReduceOp::min), -0.5 * (n - 1));
}

TEST(BackendCollectives, AllreduceArrays) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  const int len = 1000;
  std::vector<double> s(len), mn(len), mx(len);
  std::vector<std::int64_t> si(len);
  for (int i = 0; i < len; ++i) {
    s[i] = (me + 1) * (i + 1);
    si[i] = (me + 1) * (i + 1);
    // rank (i % n) has the smallest value of element i, rank ((i + 1) % n) the largest
    mn[i] = me == i % n ? -i : i + 1000;
    mx[i] = me == (i + 1) % n ? 10.0 * i + 5000 : -1.0;
  }
  c.allreduce(s.data(), s.size(), ReduceOp::sum);
  c.allreduce(si.data(), si.size(), ReduceOp::sum);
  c.allreduce(mn.data(), mn.size(), ReduceOp::min);
  c.allreduce(mx.data(), mx.size(), ReduceOp::max);
  int bad = 0;
  for (int i = 0; i < len; ++i) {
    bad += s[i] != static_cast<double>(n * (n + 1) / 2) * (i + 1);
    bad += si[i] != static_cast<std::int64_t>(n * (n + 1) / 2) * (i + 1);
    bad += mn[i] != -i;
    bad += mx[i] != 10.0 * i + 5000;
  }
  EXPECT_EQ(bad, 0);
  // zero items
  c.allreduce(s.data(), 0, ReduceOp::sum);
}

TEST(BackendCollectives, Allgather) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  const std::vector<std::int64_t> mine = {me, 10 * me, -100 * me};
  const auto all = c.allgather(mine.data(), mine.size());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(3 * n));
  for (int r = 0; r < n && all.size() == static_cast<std::size_t>(3 * n); ++r) {
    EXPECT_EQ(all[3 * r], r);
    EXPECT_EQ(all[3 * r + 1], 10 * r);
    EXPECT_EQ(all[3 * r + 2], -100 * r);
  }
  const auto one = c.allgather<double>(0.5 + me);
  EXPECT_EQ(one.size(), static_cast<std::size_t>(n));
  for (int r = 0; r < n && one.size() == static_cast<std::size_t>(n); ++r) EXPECT_EQ(one[r], 0.5 + r);
}

// Rank r's contribution to the allgatherv tests.
std::vector<std::int32_t> contribution(int r, int count) {
  std::vector<std::int32_t> v(count);
  for (int i = 0; i < count; ++i) v[i] = r * 1000 + i;
  return v;
}

void check_allgatherv(Communicator& c, int (*count_of)(int)) {
  const int me = c.rank(), n = c.size();
  const auto got = c.allgatherv(contribution(me, count_of(me)));
  std::vector<std::int32_t> want;
  for (int r = 0; r < n; ++r) {
    const auto v = contribution(r, count_of(r));
    want.insert(want.end(), v.begin(), v.end());
  }
  EXPECT_EQ(got, want);
}

TEST(BackendCollectives, AllgathervUneven) {
  Communicator c(MPI_COMM_WORLD);
  check_allgatherv(c, [](int r) { return r + 1; });
  check_allgatherv(c, [](int r) { return r; });                           // rank 0 sends nothing
  check_allgatherv(c, [](int r) { return r % 2 == 1 ? 2 * r + 1 : 0; });  // every other rank empty
  check_allgatherv(c, [](int) { return 0; });                             // nobody sends
  check_allgatherv(c, [](int r) { return r == 0 ? 100000 : 3; });         // one large part
}

TEST(BackendCollectives, AllgathervDoubles) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  std::vector<double> mine(me + 1, me + 0.25);
  const auto got = c.allgatherv(mine);
  std::vector<double> want;
  for (int r = 0; r < n; ++r) want.insert(want.end(), r + 1, r + 0.25);
  EXPECT_EQ(got, want);
}

TEST(BackendCollectives, Alltoall) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  const int k = 3;
  std::vector<std::int64_t> send(static_cast<std::size_t>(n * k));
  for (int dst = 0; dst < n; ++dst)
    for (int j = 0; j < k; ++j) send[dst * k + j] = me * 10000 + dst * 100 + j;
  const auto recv = c.alltoall(send);
  ASSERT_EQ(recv.size(), send.size());
  for (int src = 0; src < n; ++src)
    for (int j = 0; j < k; ++j) EXPECT_EQ(recv[src * k + j], src * 10000 + me * 100 + j) << src << " " << j;
}

// Items rank `from` sends to rank `to` in the alltoallv tests: uneven, with zeros
// (including to itself for some ranks).
int items(int from, int to) { return (from * 7 + to * 3) % 5; }
std::int32_t item_value(int from, int to, int i) { return from * 100000 + to * 1000 + i; }

TEST(BackendCollectives, AlltoallvUnevenWithZeros) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  // Lay the send buffer out in reverse rank order with a gap after each block, so that
  // offsets are neither contiguous nor increasing.
  std::vector<std::int64_t> counts(n), offsets(n);
  std::vector<std::int32_t> send;
  for (int to = n - 1; to >= 0; --to) {
    offsets[to] = static_cast<std::int64_t>(send.size() * sizeof(std::int32_t));
    counts[to] = items(me, to) * static_cast<std::int64_t>(sizeof(std::int32_t));
    for (int i = 0; i < items(me, to); ++i) send.push_back(item_value(me, to, i));
    send.push_back(-1);  // gap
  }
  const Counters before = c.counters();
  std::vector<std::int64_t> recv_counts;
  const auto recv = c.alltoallv(reinterpret_cast<const std::byte*>(send.data()), counts, offsets, recv_counts);
  const Counters delta = c.counters() - before;

  ASSERT_EQ(recv_counts.size(), static_cast<std::size_t>(n));
  std::vector<std::int32_t> want;
  for (int from = 0; from < n; ++from) {
    EXPECT_EQ(recv_counts[from], items(from, me) * static_cast<std::int64_t>(sizeof(std::int32_t))) << from;
    for (int i = 0; i < items(from, me); ++i) want.push_back(item_value(from, me, i));
  }
  ASSERT_EQ(recv.size(), want.size() * sizeof(std::int32_t));
  std::vector<std::int32_t> got(want.size());
  if (!got.empty()) std::memcpy(got.data(), recv.data(), recv.size());
  EXPECT_EQ(got, want);

  // Counters: only the payload to and from *other* ranks.
  std::int64_t sent = 0, received = 0;
  for (int r = 0; r < n; ++r) {
    if (r == me) continue;
    sent += items(me, r) * static_cast<std::int64_t>(sizeof(std::int32_t));
    received += items(r, me) * static_cast<std::int64_t>(sizeof(std::int32_t));
  }
  EXPECT_EQ(delta.bytes_sent, sent);
  EXPECT_EQ(delta.bytes_received, received);
}

TEST(BackendCollectives, AlltoallvAllZero) {
  Communicator c(MPI_COMM_WORLD);
  const int n = c.size();
  std::vector<std::int64_t> counts(n, 0), offsets(n, 0), recv_counts;
  const Counters before = c.counters();
  const std::byte dummy{};
  const auto recv = c.alltoallv(&dummy, counts, offsets, recv_counts);
  EXPECT_TRUE(recv.empty());
  EXPECT_EQ(recv_counts, std::vector<std::int64_t>(n, 0));
  const Counters delta = c.counters() - before;
  EXPECT_EQ(delta.bytes_sent, 0);
  EXPECT_EQ(delta.bytes_received, 0);
}

TEST(BackendCollectives, AlltoallvOnlyToSelf) {
  // Data that stays on its rank is copied, and counts as no traffic.
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  std::vector<double> send = {1.5 + me, 2.5 + me, 3.5 + me};
  std::vector<std::int64_t> counts(n, 0), offsets(n, 0), recv_counts;
  counts[me] = static_cast<std::int64_t>(send.size() * sizeof(double));
  const Counters before = c.counters();
  const auto recv = c.alltoallv(reinterpret_cast<const std::byte*>(send.data()), counts, offsets, recv_counts);
  const Counters delta = c.counters() - before;
  ASSERT_EQ(recv.size(), send.size() * sizeof(double));
  std::vector<double> got(send.size());
  std::memcpy(got.data(), recv.data(), recv.size());
  EXPECT_EQ(got, send);
  EXPECT_EQ(delta.bytes_sent, 0);
  EXPECT_EQ(delta.bytes_received, 0);
}

TEST(BackendCollectives, AlltoallvLargeBlocks) {
  // A few megabytes to each rank (well beyond eager limits).
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  const std::int64_t per = 1 << 19;  // doubles per destination
  std::vector<double> send(static_cast<std::size_t>(per * n));
  std::vector<std::int64_t> counts(n), offsets(n), recv_counts;
  for (int to = 0; to < n; ++to) {
    counts[to] = per * static_cast<std::int64_t>(sizeof(double));
    offsets[to] = to * per * static_cast<std::int64_t>(sizeof(double));
    for (std::int64_t i = 0; i < per; ++i) send[to * per + i] = me * 1e7 + to * 1e6 + static_cast<double>(i);
  }
  const auto recv = c.alltoallv(reinterpret_cast<const std::byte*>(send.data()), counts, offsets, recv_counts);
  ASSERT_EQ(recv.size(), send.size() * sizeof(double));
  const auto* d = reinterpret_cast<const double*>(recv.data());
  std::int64_t bad = 0;
  for (int from = 0; from < n; ++from)
    for (std::int64_t i = 0; i < per; ++i) bad += d[from * per + i] != from * 1e7 + me * 1e6 + static_cast<double>(i);
  EXPECT_EQ(bad, 0);
}

TEST(BackendCollectives, CountersOfAllgathervExcludeCountsExchange) {
  // Like alltoallv, whose exchange of counts is bookkeeping and not counted, only the
  // payload of an allgatherv counts: otherwise measured bytes drift from the cost model.
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  const Counters before = c.counters();
  (void)c.allgatherv(std::vector<std::int64_t>(static_cast<std::size_t>(me + 1), 1));
  const Counters delta = c.counters() - before;
  std::int64_t received = 0;
  for (int r = 0; r < n; ++r)
    if (r != me) received += (r + 1) * 8;
  EXPECT_EQ(delta.bytes_received, received);
  EXPECT_EQ(delta.bytes_sent, static_cast<std::int64_t>(n - 1) * (me + 1) * 8);
}

TEST(BackendCollectives, CountersOperators) {
  Counters a{10, 20, 1, 2};
  const Counters b{3, 4, 1, 1};
  const Counters d = a - b;
  EXPECT_EQ(d.bytes_sent, 7);
  EXPECT_EQ(d.bytes_received, 16);
  EXPECT_EQ(d.messages_sent, 0);
  EXPECT_EQ(d.messages_received, 1);
  a += b;
  EXPECT_EQ(a.bytes_sent, 13);
  EXPECT_EQ(a.bytes_received, 24);
  EXPECT_EQ(a.messages_sent, 2);
  EXPECT_EQ(a.messages_received, 3);
}

// ---------------------------------------------------------------------------------
// Error agreement
// ---------------------------------------------------------------------------------

// Runs agree() with `local` and returns what it threw (nullptr when nothing).
std::exception_ptr agreed(Communicator& c, std::exception_ptr local) {
  try {
    c.agree(std::move(local));
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

template <class E>
std::exception_ptr error_on(int rank, int me, const char* what) {
  return me == rank ? std::make_exception_ptr(E(what)) : nullptr;
}

// Checks that `e` is exactly of type E with message `want`.
template <class E>
void expect_error(const std::exception_ptr& e, const std::string& want) {
  if (!e) {
    ADD_FAILURE() << "nothing was thrown; expected " << typeid(E).name() << ": " << want;
    return;
  }
  try {
    std::rethrow_exception(e);
  } catch (const E& x) {
    EXPECT_EQ(typeid(x), typeid(E)) << "caught a " << typeid(x).name() << " as " << typeid(E).name();
    EXPECT_EQ(std::string(x.what()), want);
  } catch (const std::exception& x) {
    ADD_FAILURE() << "wrong type " << typeid(x).name() << ": " << x.what() << "; expected " << typeid(E).name();
  } catch (...) {
    ADD_FAILURE() << "non-std exception; expected " << typeid(E).name();
  }
}

TEST(BackendAgree, NothingFailed) {
  Communicator c(MPI_COMM_WORLD);
  EXPECT_NO_THROW(c.agree(nullptr));
  EXPECT_NO_THROW(c.agree(nullptr));
  // still usable
  EXPECT_EQ(c.allreduce<std::int64_t>(1, ReduceOp::sum), c.size());
}

TEST(BackendAgree, LastRankFailsEveryRankThrows) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  const auto e = agreed(c, error_on<spartanxx::io_error>(n - 1, me, "x.txt: cannot open"));
  EXPECT_TRUE(e != nullptr) << "nothing thrown";
  try {
    if (e) std::rethrow_exception(e);
  } catch (const spartanxx::io_error& x) {
    const std::string what = x.what();
    EXPECT_TRUE(starts_with(what, "[rank " + std::to_string(n - 1) + "]")) << what;
    EXPECT_NE(what.find("x.txt"), std::string::npos) << what;
    EXPECT_EQ(what, "[rank " + std::to_string(n - 1) + "] x.txt: cannot open");
  } catch (const std::exception& x) {
    ADD_FAILURE() << "wrong type " << typeid(x).name() << ": " << x.what();
  }
  // The communicator is still in step on every rank.
  EXPECT_EQ(c.allreduce<std::int64_t>(me, ReduceOp::sum), static_cast<std::int64_t>(n) * (n - 1) / 2);
}

TEST(BackendAgree, LowestFailingRankWins) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  if (n <= 2) GTEST_SKIP() << "needs more than two ranks";
  std::exception_ptr local;
  if (me == 1) local = std::make_exception_ptr(spartanxx::io_error("one.txt: cannot open"));
  if (me == 2) local = std::make_exception_ptr(spartanxx::shape_error("two: shapes (3,) and (4,)"));
  expect_error<spartanxx::io_error>(agreed(c, local), "[rank 1] one.txt: cannot open");
  EXPECT_EQ(c.allreduce<std::int64_t>(1, ReduceOp::sum), n);
}

TEST(BackendAgree, EveryRankFails) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank();
  const auto local = std::make_exception_ptr(spartanxx::value_error("bad value on rank " + std::to_string(me)));
  expect_error<spartanxx::value_error>(agreed(c, local), "[rank 0] bad value on rank 0");
}

TEST(BackendAgree, BadAllocBecomesMemoryError) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  for (int victim : {0, n - 1}) {
    const auto local = me == victim ? std::make_exception_ptr(std::bad_alloc()) : nullptr;
    const auto e = agreed(c, local);
    EXPECT_TRUE(e != nullptr) << "victim " << victim;
    try {
      if (e) std::rethrow_exception(e);
    } catch (const spartanxx::memory_error& x) {
      EXPECT_TRUE(starts_with(x.what(), "[rank " + std::to_string(victim) + "] out of memory")) << x.what();
    } catch (const std::exception& x) {
      ADD_FAILURE() << "wrong type " << typeid(x).name() << ": " << x.what();
    }
  }
}

TEST(BackendAgree, NonStdExceptionBecomesRemoteError) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  const auto local = me == n - 1 ? std::make_exception_ptr(42) : nullptr;
  const auto e = agreed(c, local);
  EXPECT_TRUE(e != nullptr) << "nothing thrown";
  try {
    if (e) std::rethrow_exception(e);
  } catch (const spartanxx::remote_error& x) {
    EXPECT_TRUE(starts_with(x.what(), "[rank " + std::to_string(n - 1) + "]")) << x.what();
  } catch (...) {
    ADD_FAILURE() << "expected remote_error";
  }
}

TEST(BackendAgree, TypesArePreserved) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  const int f = n / 2;  // a middle rank fails
  const std::string p = "[rank " + std::to_string(f) + "] ";
  expect_error<spartanxx::shape_error>(agreed(c, error_on<spartanxx::shape_error>(f, me, "s")), p + "s");
  expect_error<spartanxx::axis_error>(agreed(c, error_on<spartanxx::axis_error>(f, me, "a")), p + "a");
  expect_error<spartanxx::dtype_error>(agreed(c, error_on<spartanxx::dtype_error>(f, me, "d")), p + "d");
  expect_error<spartanxx::value_error>(agreed(c, error_on<spartanxx::value_error>(f, me, "v")), p + "v");
  expect_error<spartanxx::index_error>(agreed(c, error_on<spartanxx::index_error>(f, me, "i")), p + "i");
  expect_error<spartanxx::io_error>(agreed(c, error_on<spartanxx::io_error>(f, me, "o")), p + "o");
  expect_error<spartanxx::mpi_error>(agreed(c, error_on<spartanxx::mpi_error>(f, me, "m")), p + "m");
  expect_error<std::invalid_argument>(agreed(c, error_on<std::invalid_argument>(f, me, "ia")), p + "ia");
  expect_error<std::out_of_range>(agreed(c, error_on<std::out_of_range>(f, me, "oor")), p + "oor");
  expect_error<std::runtime_error>(agreed(c, error_on<std::runtime_error>(f, me, "rt")), p + "rt");
}

TEST(BackendAgree, LongAndEmptyMessages) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  const std::string long_msg(100000, 'z');
  expect_error<spartanxx::io_error>(agreed(c, error_on<spartanxx::io_error>(n - 1, me, long_msg.c_str())),
                                    "[rank " + std::to_string(n - 1) + "] " + long_msg);
  const auto e = agreed(c, error_on<spartanxx::io_error>(0, me, ""));
  try {
    if (e) std::rethrow_exception(e);
    ADD_FAILURE() << "nothing thrown";
  } catch (const spartanxx::io_error& x) {
    EXPECT_TRUE(starts_with(x.what(), "[rank 0]")) << x.what();
  } catch (...) {
    ADD_FAILURE() << "wrong type";
  }
}

TEST(BackendAgree, RepeatedAgreementsStayInStep) {
  // Alternate failures and successes; every round must agree on every rank.
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  for (int round = 0; round < 20; ++round) {
    const int victim = round % (n + 1);  // n means: nobody fails
    const auto e = agreed(c, error_on<spartanxx::io_error>(victim, me, ("round " + std::to_string(round)).c_str()));
    if (victim == n) {
      EXPECT_TRUE(e == nullptr) << "round " << round;
    } else {
      expect_error<spartanxx::io_error>(e, "[rank " + std::to_string(victim) + "] round " + std::to_string(round));
    }
  }
}

TEST(BackendAgree, RunAgreed) {
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  int ran = 0;
  EXPECT_NO_THROW(c.run_agreed([&] { ++ran; }));
  EXPECT_EQ(ran, 1);

  ran = 0;
  try {
    c.run_agreed([&] {
      ++ran;
      if (me == n - 1) throw spartanxx::io_error("x.txt: cannot open");
    });
    ADD_FAILURE() << "run_agreed did not throw";
  } catch (const spartanxx::io_error& x) {
    const std::string what = x.what();
    EXPECT_TRUE(starts_with(what, "[rank " + std::to_string(n - 1) + "]")) << what;
    EXPECT_NE(what.find("x.txt"), std::string::npos) << what;
  } catch (const std::exception& x) {
    ADD_FAILURE() << "wrong type " << typeid(x).name() << ": " << x.what();
  }
  EXPECT_EQ(ran, 1);  // the local phase ran on every rank

  try {
    c.run_agreed([&] {
      if (me == 0) throw std::bad_alloc();
    });
    ADD_FAILURE() << "run_agreed did not throw";
  } catch (const spartanxx::memory_error& x) {
    EXPECT_TRUE(starts_with(x.what(), "[rank 0]")) << x.what();
  } catch (const std::exception& x) {
    ADD_FAILURE() << "wrong type " << typeid(x).name() << ": " << x.what();
  }
}

TEST(BackendAgree, NestedAgreementKeepsTheOriginalRank) {
  // An error that was already agreed (so every rank holds it) and is agreed again by
  // an outer phase still names the rank where it happened, not rank 0.
  Communicator c(MPI_COMM_WORLD);
  const int me = c.rank(), n = c.size();
  try {
    c.run_agreed([&] {
      c.run_agreed([&] {
        if (me == n - 1) throw spartanxx::io_error("inner.txt: cannot open");
      });
    });
    ADD_FAILURE() << "nothing thrown";
  } catch (const spartanxx::io_error& x) {
    EXPECT_EQ(std::string(x.what()), "[rank " + std::to_string(n - 1) + "] inner.txt: cannot open");
  } catch (const std::exception& x) {
    ADD_FAILURE() << "wrong type " << typeid(x).name() << ": " << x.what();
  }
}

}  // namespace
}  // namespace spartanxx::backend
