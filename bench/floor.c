/* The floor for a whole-process token client: connect to authd's socket, write one request line,
 * read lines until the final answer ("ok"), print it. No JSON parsing, no allocation, no locale.
 * Built static and dynamic by bench/run.sh; the gap between it and authctl is what authctl's own
 * start-up and work cost.
 *
 *   floor SOCKET [REQUEST]   (REQUEST defaults to {"op":"get","audience":"demo"}) */
#define _GNU_SOURCE
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *request = argc > 2 ? argv[2] : "{\"op\":\"get\",\"audience\":\"demo\"}";
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strncpy(address.sun_path, argv[1], sizeof address.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) return 5;
    char line[65536];
    size_t length = strlen(request);
    if (length + 1 > sizeof line) return 2;
    memcpy(line, request, length);
    line[length] = '\n';
    if (write(fd, line, length + 1) != (ssize_t)(length + 1)) return 5;
    size_t filled = 0, start = 0;
    for (;;) {
        ssize_t n = read(fd, line + filled, sizeof line - filled);
        if (n <= 0) return 1;
        filled += (size_t)n;
        /* Each complete line: the final one carries "ok". */
        for (size_t i = start; i < filled; i++) {
            if (line[i] != '\n') continue;
            if (memmem(line + start, i - start, "\"ok\":", 5) != NULL) {
                write(1, line + start, i - start + 1);
                return memmem(line + start, i - start, "\"ok\":true", 9) != NULL ? 0 : 1;
            }
            start = i + 1;
        }
        if (start == filled) { filled = start = 0; }
        if (filled == sizeof line) return 1;
    }
}
