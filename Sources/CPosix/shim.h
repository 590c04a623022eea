#include <errno.h>
#include <fcntl.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

// struct ucred and the newer socket options are _GNU_SOURCE-only or missing from the
// installed headers; the kernel ABI is stable, so they are declared here.
struct authd_ucred { pid_t pid; uid_t uid; gid_t gid; };
#define AUTHD_SO_PEERCRED 17
#define AUTHD_SO_PEERPIDFD 77

static inline int authd_errno(void) { return errno; }
static inline void authd_set_errno(int e) { errno = e; }
