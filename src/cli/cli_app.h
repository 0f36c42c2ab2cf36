// The `cadre` command line: parses arguments with CLI11 and calls the
// modules' operations; formatting for people (and `--json` for programs)
// is all it adds. Exit codes:
//   0  success                        5  the run ended failed or cancelled (run --wait)
//   1  an error (message on stderr)   6  conflict: the state changed, or not allowed now
//   2  bad usage                      7  the database is busy or unavailable
//   3  not found                      8  the run is waiting for an operator (uncertain)
//   4  the workspace has errors (check lists them all)
#pragma once

namespace cadre {

int cli_main(int argc, char** argv);

}  // namespace cadre
