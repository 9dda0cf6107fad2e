/* Helpers the bench's systems share: pinning, spawning and stopping server processes, the clock. */
#include "bench/system.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sfu/lg_error.h"

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int bench_pin_cpu(pid_t pid, int cpu)
{
    if (cpu < 0)
        return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(pid, sizeof set, &set) == 0 ? 0 : LG_EIO;
}

/* In the child: output to the log, own process group, pinned, then exec. Never returns. */
static void child_exec(char *const argv[], int cpu, const char *log_path)
{
    setpgid(0, 0);
    /* never outlive the bench: a crashed bench would leave the server running (and holding its
     * network namespace). Fires when the forking thread ends: start systems from main. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        close(null);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (bench_pin_cpu(0, cpu) != 0)
        fprintf(stderr, "bench: cannot pin to cpu %d: %s\n", cpu, strerror(errno));
    execvp(argv[0], argv);
    fprintf(stderr, "bench: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

pid_t bench_spawn(char *const argv[], int cpu, const char *log_path, char *err, size_t errlen)
{
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return LG_EIO;
    }
    if (pid == 0)
        child_exec(argv, cpu, log_path);
    setpgid(pid, pid);
    return pid;
}

bool bench_alive(pid_t pid)
{
    if (pid <= 0)
        return false;
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    return r == 0;
}

int bench_kill(pid_t pid, int grace_ms)
{
    if (pid <= 0)
        return -1;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid)
        return status;
    kill(pid, SIGTERM);
    for (int waited = 0; waited < grace_ms; waited += 10) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    return waitpid(pid, &status, 0) == pid ? status : -1;
}

void bench_opts_defaults(bench_participant_opts_t *o)
{
    if (!o->audio_payload)
        o->audio_payload = 60;
    if (!o->video_kbps)
        o->video_kbps = 1500;
    if (!o->video_fps)
        o->video_fps = 30;
    if (!o->timeout_ms)
        o->timeout_ms = 15000;
}
