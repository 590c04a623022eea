#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

// struct ucred and the newer socket options are _GNU_SOURCE-only or missing from the
// installed headers; the kernel ABI is stable, so they are declared here.
struct authd_ucred { pid_t pid; uid_t uid; gid_t gid; };
#define AUTHD_SO_PEERCRED 17
#define AUTHD_SO_PEERPIDFD 77
#define AUTHD_SO_PASSCRED 16
#define AUTHD_SCM_CREDENTIALS 2
// POSIX_SPAWN_SETSID is _GNU_SOURCE-only (glibc 2.26+).
#define AUTHD_POSIX_SPAWN_SETSID 0x80

static inline int authd_errno(void) { return errno; }
static inline void authd_set_errno(int e) { errno = e; }

// `environ` is declared only under _GNU_SOURCE.
static inline char **authd_environ(void) { extern char **environ; return environ; }

// ioctl, prctl and syscall are variadic and do not import: one typed entry point each.
static inline int authd_window_size(int fd, unsigned short *rows, unsigned short *cols) {
    struct winsize ws;
    int r = ioctl(fd, TIOCGWINSZ, &ws);
    if (r == 0) { *rows = ws.ws_row; *cols = ws.ws_col; }
    return r;
}
static inline int authd_set_not_dumpable(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }
static inline int authd_get_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }
// The calling thread's name in /proc/PID/task/TID/comm (the kernel keeps 15 bytes).
static inline int authd_set_thread_name(const char *name) { return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }
static inline int authd_pidfd_send_signal(int pidfd, int sig) {
#ifdef SYS_pidfd_send_signal
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
#else
    return (int)syscall(424, pidfd, sig, NULL, 0);
#endif
}

static inline int authd_pidfd_open(int pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    return (int)syscall(434, pid, 0);
#endif
}

// One recvmsg on a stream socket with SO_PASSCRED set: the bytes of one writer and that writer's
// credentials (the kernel never joins bytes of different writers in one call when SO_PASSCRED is
// on). Descriptors a peer sent with SCM_RIGHTS are closed at once: nothing here accepts them.
// Returns recvmsg's result; *has_credentials is 1 when an SCM_CREDENTIALS message came with it.
static inline long authd_receive_with_credentials(int fd, void *buffer, size_t length,
                                                  struct authd_ucred *credentials, int *has_credentials) {
    union { struct cmsghdr align; char space[CMSG_SPACE(sizeof(struct authd_ucred)) + CMSG_SPACE(sizeof(int) * 32)]; } control;
    struct iovec vector = { buffer, length };
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control.space;
    message.msg_controllen = sizeof control.space;
    *has_credentials = 0;
    ssize_t received = recvmsg(fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (received < 0) return received;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == AUTHD_SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof *credentials)) {
            memcpy(credentials, CMSG_DATA(c), sizeof *credentials);
            *has_credentials = 1;
        } else if (c->cmsg_type == SCM_RIGHTS) {
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int passed;
                memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
                close(passed);
            }
        }
    }
    return (long)received;
}

// The terminal settings to put back when a prompt that turned echo off ends, also from the
// signal handler below: a signal handler has no context, so this one process-wide slot is it.
// A static inline function's static is per object file, so every caller of these functions
// lives in one Swift file, AuthdPosix/Terminal.swift.
struct authd_saved_terminal { struct termios settings; volatile sig_atomic_t fd; };
static inline struct authd_saved_terminal *authd_saved_terminal(void) {
    static struct authd_saved_terminal slot = { .fd = -1 };
    return &slot;
}

static inline int authd_terminal_echo_off(int fd) {
    struct authd_saved_terminal *saved = authd_saved_terminal();
    struct termios settings;
    if (tcgetattr(fd, &settings) != 0) return -1;
    saved->settings = settings;
    settings.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    if (tcsetattr(fd, TCSANOW, &settings) != 0) return -1;
    saved->fd = fd;
    return 0;
}

// Discards what was typed meanwhile and restores the saved settings; a no-op when none are saved.
static inline int authd_terminal_restore(void) {
    struct authd_saved_terminal *saved = authd_saved_terminal();
    int fd = saved->fd;
    if (fd < 0) return 0;
    saved->fd = -1;
    (void)tcflush(fd, TCIFLUSH);
    return tcsetattr(fd, TCSANOW, &saved->settings);
}

// A SIGINT/SIGTERM handler for interactive clients: give the terminal its echo back, end the
// line the prompt left open and exit with the conventional 128+signal status. Only
// async-signal-safe calls (tcflush and tcsetattr are).
static inline void authd_newline_and_exit(int sig) {
    (void)authd_terminal_restore();
    (void)!write(2, "\n", 1);
    _exit(128 + sig);
}
static inline int authd_install_newline_exit_handler(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = authd_newline_and_exit;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

// accept4 and pipe2 are _GNU_SOURCE-only; both are in every glibc the toolchain supports.
extern int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
extern int pipe2(int pipefd[2], int flags);

// posix_spawn_file_actions_addclosefrom_np is a GNU extension (glibc 2.34+), hidden without _GNU_SOURCE.
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *, int);
static inline int authd_spawn_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

// Signals as bytes on a pipe (the self-pipe trick): the handler only calls write(), which is
// async-signal-safe. A handler can reach nothing but process-wide state, hence the one static.
static int authd_signal_pipe_write_end = -1;
static void authd_signal_to_pipe(int signo) {
    int saved = errno;
    unsigned char byte = (unsigned char)signo;
    (void)write(authd_signal_pipe_write_end, &byte, 1);
    errno = saved;
}
static inline int authd_deliver_signal_to_pipe(int signo, int write_end) {
    authd_signal_pipe_write_end = write_end;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = authd_signal_to_pipe;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    return sigaction(signo, &action, NULL);
}
