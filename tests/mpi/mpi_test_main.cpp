// An MPI-aware GoogleTest main. Every rank runs every test; a test's failures on any
// rank are gathered to rank 0, which alone prints, each message tagged with its rank.
// The exit status is the same on every rank: non-zero when any rank failed.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>
#include <string>
#include <vector>

#include "spartanxx/runtime.hpp"

namespace {

class MpiListener : public ::testing::EmptyTestEventListener {
 public:
  MpiListener(int rank, int size) : rank_(rank), size_(size) {}

  void OnTestStart(const ::testing::TestInfo&) override { messages_.clear(); }

  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    messages_ += "[rank " + std::to_string(rank_) + "] " + (r.file_name() ? r.file_name() : "?") + ":" +
                 std::to_string(r.line_number()) + "\n" + r.summary() + "\n";
  }

  void OnTestEnd(const ::testing::TestInfo& info) override {
    // Gather every rank's failure text to rank 0.
    int len = static_cast<int>(messages_.size());
    std::vector<int> lens(size_);
    MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
    std::vector<int> displs(size_, 0);
    int total = 0;
    for (int r = 0; r < size_; ++r) displs[r] = total, total += lens[r];
    std::string all(static_cast<std::size_t>(rank_ == 0 ? total : 0), '\0');
    MPI_Gatherv(messages_.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rank_ != 0) return;
    const std::string name = std::string(info.test_suite_name()) + "." + info.name();
    if (total == 0) {
      std::printf("[       OK ] %s (%lld ms)\n", name.c_str(), static_cast<long long>(info.result()->elapsed_time()));
    } else {
      std::printf("%s[  FAILED  ] %s on %d ranks\n", all.c_str(), name.c_str(), size_);
      failed_.push_back(name);
    }
    std::fflush(stdout);
  }

  void OnTestProgramEnd(const ::testing::UnitTest& unit) override {
    if (rank_ != 0) return;
    std::printf("[==========] %d tests ran on %d ranks.\n", unit.test_to_run_count(), size_);
    std::printf("[  PASSED  ] %d tests.\n", unit.test_to_run_count() - static_cast<int>(failed_.size()));
    for (const auto& f : failed_) std::printf("[  FAILED  ] %s\n", f.c_str());
    std::fflush(stdout);
  }

 private:
  int rank_, size_;
  std::string messages_;
  std::vector<std::string> failed_;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int result = 0;
  {
    spartanxx::Runtime rt(argc, argv);
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new MpiListener(rt.rank(), rt.size()));
    int local = RUN_ALL_TESTS();
    MPI_Allreduce(&local, &result, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  }
  return result;
}
