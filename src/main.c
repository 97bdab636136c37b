/* forumnet: subcommand dispatch only. */
#include <stdio.h>
#include <string.h>

#include "forumnet/cli.h"

static int usage(void) {
  fprintf(stderr, "usage: forumnet <command>\n"
                  "  serve                 run the HTTP API\n"
                  "  migrate               apply pending database migrations\n"
                  "  admin create ...      create an account (forumnet admin create --help)\n"
                  "  seed --demo           create a small demo network\n"
                  "  seed --scale N [--seed S]  generate a national-scale network (N=1: 200 sites, 30 000 members)\n"
                  "  version               print the version\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2)
    return usage();
  const char *command = argv[1];
  if (strcmp(command, "serve") == 0)
    return cli_serve(argc - 1, argv + 1);
  if (strcmp(command, "migrate") == 0)
    return cli_migrate(argc - 1, argv + 1);
  if (strcmp(command, "admin") == 0)
    return cli_admin(argc - 1, argv + 1);
  if (strcmp(command, "seed") == 0)
    return cli_seed(argc - 1, argv + 1);
  if (strcmp(command, "version") == 0) {
    printf("forumnet 0.1.0\n");
    return 0;
  }
  return usage();
}
