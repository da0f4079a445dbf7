// SPDX-License-Identifier: MIT
// Runs a libFuzzer entry over every file of a corpus directory, so the seeds are checked by the
// ordinary test suite (any compiler, no libFuzzer): the entry aborts when an invariant breaks.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size);

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(argv[1], ec)) {
        if (entry.is_regular_file()) {
            files.push_back(entry.path());
        }
    }
    // An empty or missing corpus would make this test pass while checking nothing.
    if (ec || files.empty()) {
        std::fprintf(stderr, "corpus_replay: no files in %s\n", argv[1]);
        return 1;
    }
    for (const auto& path : files) {
        std::ifstream in(path, std::ios::binary);
        const std::string bytes{std::istreambuf_iterator<char>(in), {}};
        if (!in.good() && !in.eof()) {
            std::fprintf(stderr, "corpus_replay: cannot read %s\n", path.c_str());
            return 1;
        }
        std::fprintf(stderr, "corpus_replay: %s (%zu bytes)\n", path.filename().c_str(),
                     bytes.size());
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    }
    std::printf("corpus_replay: %zu inputs passed\n", files.size());
    return 0;
}
