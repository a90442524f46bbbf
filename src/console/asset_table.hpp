// The table the build generates from src/console/assets (embed.cmake): one entry per file.
#pragma once

#include <cstddef>

namespace cjhub::console::generated {

struct EmbeddedFile {
  const char* path;  // relative to the assets directory, '/'-separated
  const unsigned char* data;
  std::size_t size;
};

extern const EmbeddedFile kFiles[];
extern const std::size_t kFileCount;

}  // namespace cjhub::console::generated
