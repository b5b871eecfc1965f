#pragma once
// A fresh temporary directory per test, shared by every rank.
#include <gtest/gtest.h>
#include <mpi.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "mpi/test_support.hpp"

namespace spartanxx_test {

namespace fs = std::filesystem;

// A fresh directory per test, made by rank 0 and removed after the test.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[256] = {0};
    if (world_rank() == 0) {
      std::string templ = (fs::temp_directory_path() / "spartanxx-io-XXXXXX").string();
      if (!mkdtemp(templ.data())) templ.clear();
      std::snprintf(name, sizeof name, "%s", templ.c_str());
    }
    MPI_Bcast(name, sizeof name, MPI_CHAR, 0, MPI_COMM_WORLD);
    dir_ = name;
    ASSERT_FALSE(dir_.empty()) << "cannot make a temporary directory";
  }
  void TearDown() override {
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0 && !dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }

  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  // Rank 0 writes the file; every rank returns its path once it exists.
  std::string write_file(const std::string& name, const std::string& content) const {
    const std::string p = path(name);
    if (world_rank() == 0) {
      std::ofstream out(p, std::ios::binary);
      out << content;
    }
    MPI_Barrier(MPI_COMM_WORLD);
    return p;
  }

  // The directory's entries, sorted.
  std::vector<std::string> listing() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_;
};

}  // namespace spartanxx_test
