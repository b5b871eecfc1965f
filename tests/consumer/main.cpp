// Uses only the installed headers and library: sum(arange(10)) must be 45 on every rank.
#include <iostream>

#include <spartanxx/spartanxx.hpp>

int main(int argc, char** argv) {
  spartanxx::Runtime rt(argc, argv);
  try {
    const double total = spartanxx::sum(spartanxx::arange(10)).item();
    const bool ok = total == 45.0;
    if (!ok || rt.rank() == 0) {
      std::cout << "[rank " << rt.rank() << " of " << rt.size() << "] sum(arange(10)) = " << total
                << (ok ? " (ok)" : " (expected 45)") << std::endl;
    }
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "[rank " << rt.rank() << "] consumer: " << e.what() << std::endl;
    return 1;
  }
}
