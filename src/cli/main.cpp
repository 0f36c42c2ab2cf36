#include "cli/cli_app.h"

int main(int argc, char** argv) { return cadre::cli_main(argc, argv); }
