// The example workspaces bundled in the binary, so that `cadre init --example
// NAME` needs nothing beside the executable. The table is generated at build
// time from examples/NAME/... by cmake/embed_examples.cmake.
//
// Thread-safety: immutable static data.
#pragma once

#include <span>
#include <string_view>

namespace cadre {

struct ExampleFile {
  std::string_view example;  // "saas-founder"
  std::string_view path;     // relative to the example's root, e.g. "playbooks/digest.yaml"
  std::string_view contents;
};

// Every file of every example, sorted by example then path.
std::span<const ExampleFile> example_files();

}  // namespace cadre
