/* The floor for a token server: what the load generator can reach on this machine when the server
 * does nothing but accept, read one request line and write a fixed answer. One thread, epoll,
 * non-blocking sockets: no peer check, no policy, no audit, no decryption. Built by bench/run.sh;
 * authd and oidc-agent are measured against it in the same run under the same load.
 *
 *   floor-server SOCKET ANSWERFILE   (ANSWERFILE: the bytes written to every request, e.g. a
 *                                     captured authd answer, so both write the same length) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { MAXFD = 65536, MAXEVENTS = 256, LINE = 4096 };
static char answer[65536];
static ssize_t answer_length;
/* Bytes of an unfinished request line per connection (only the newline matters). */
static unsigned short filled[MAXFD];

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int file = open(argv[2], O_RDONLY);
    if (file < 0 || (answer_length = read(file, answer, sizeof answer)) <= 0) return 2;
    close(file);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strncpy(address.sun_path, argv[1], sizeof address.sun_path - 1);
    unlink(argv[1]);
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 4096) != 0) return 1;
    int poller = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(poller, EPOLL_CTL_ADD, listener, &event);
    struct epoll_event events[MAXEVENTS];
    char line[LINE];
    for (;;) {
        int ready = epoll_wait(poller, events, MAXEVENTS, -1);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) return 1;
        for (int i = 0; i < ready; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    if (client >= MAXFD) { close(client); continue; }
                    filled[client] = 0;
                    struct epoll_event clientEvent = {.events = EPOLLIN, .data.fd = client};
                    epoll_ctl(poller, EPOLL_CTL_ADD, client, &clientEvent);
                }
                continue;
            }
            ssize_t n = read(fd, line, sizeof line);
            if (n < 0 && errno == EAGAIN) continue;
            if (n <= 0) { close(fd); continue; }
            if (memchr(line, '\n', (size_t)n) == NULL) {
                if (filled[fd] + n > 65535) { close(fd); continue; }
                filled[fd] += (unsigned short)n;
                continue;
            }
            /* The answer fits a Unix socket's buffer: one write, then close (closing also removes it from epoll). */
            (void)!write(fd, answer, (size_t)answer_length);
            close(fd);
        }
    }
}
