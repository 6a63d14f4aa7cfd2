// The public headers (facade/include/eskit, and <eskit/codes.h> which the build copies from
// ext/codes.h) include neither <sqlite3.h> nor simdjson: an application compiles against
// libeskit without either. consumer.cpp checks the same at compile time, transitively.
#include <fstream>
#include <regex>

#include "support.hpp"

using namespace ft;

TEST_CASE("Public headers: no <sqlite3.h>, no simdjson") {
    std::vector<fs::path> roots;
    for (const char* var : {"ESKIT_FACADE_INCLUDE", "ESKIT_FACADE_BUILD_INCLUDE"}) {
        const char* p = std::getenv(var);
        REQUIRE_MESSAGE(p != nullptr, var << " is not set (run the suite through meson)");
        roots.emplace_back(p);
    }
    const std::regex include(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
    int headers = 0;
    std::vector<std::string> offending;
    for (const fs::path& root : roots) {
        REQUIRE(fs::is_directory(root / "eskit"));
        for (const auto& entry : fs::recursive_directory_iterator(root / "eskit")) {
            const std::string ext = entry.path().extension().string();
            if (!entry.is_regular_file() || (ext != ".hpp" && ext != ".h")) continue;
            ++headers;
            std::ifstream in(entry.path());
            std::string line;
            while (std::getline(in, line)) {
                std::smatch m;
                if (!std::regex_search(line, m, include)) continue;
                const std::string target = m[1];
                if (target.find("sqlite3") != std::string::npos ||
                    target.find("simdjson") != std::string::npos) {
                    offending.push_back(entry.path().string() + ": " + line);
                }
            }
        }
    }
    CHECK(headers >= 14);  // eskit.hpp and the headers it includes, codes.h, detail/pp.hpp
    CHECK(offending == std::vector<std::string>{});
}
