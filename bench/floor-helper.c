/* The floor for a git credential helper: read git's request to the end, print fixed credentials,
 * exit. No socket, no config, no allocation. Built static by bench/run.sh and configured as
 * `credential.helper = "/path/floor-helper LENGTH"`, so the password it prints (LENGTH 'x's, no
 * secret) is as long as authd's token; the gap between a `git credential fill` through it and
 * through git's own credential-cache is what no helper can go below on this machine. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char buffer[4096];
    while (read(0, buffer, sizeof buffer) > 0) {}
    if (argc < 3 || strcmp(argv[2], "get") != 0) return 0; /* store and erase: nothing to do */
    long length = strtol(argv[1], NULL, 10);
    if (length < 1 || length > 4000) return 1;
    char answer[4096 + 64] = "username=oauth2\npassword=";
    size_t at = strlen(answer);
    memset(answer + at, 'x', (size_t)length);
    at += (size_t)length;
    answer[at++] = '\n';
    return write(1, answer, at) == (ssize_t)at ? 0 : 1;
}
