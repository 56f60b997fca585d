/* The stall watchdog: quiet while calls return, ends a stalled process with status 4 and
 * one line naming the rank, the call, the step and whom it waits for. Each case runs in
 * a child process, since a stall ends the process. */
#include "unit.h"

#include "gdmpi/watchdog.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef void (*child_fn)(void);

/* Runs fn in a child with stderr on a pipe. Waits at most limit_s seconds (the only
 * timing this suite asserts: a stall ends within a bounded time); kills the child after
 * that. Returns the exit status, or -1 if it had to be killed; its stderr goes to err. */
static int run_child(child_fn fn, double limit_s, char *err, size_t errlen)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int status = -1;
    for (;;) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            ssize_t n = read(fds[0], err + got, errlen - 1 - got);
            if (n > 0)
                got += (size_t)n;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            ssize_t n;
            while ((n = read(fds[0], err + got, errlen - 1 - got)) > 0)
                got += (size_t)n;
            status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - start.tv_sec) + 1e-9 * (double)(now.tv_nsec - start.tv_nsec) >
            limit_s) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
    }
    close(fds[0]);
    err[got] = '\0';
    return status;
}

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Blocks "in an allreduce" far longer than the 0.2 s timeout. */
static void stall_collective(void)
{
    if (gd_watchdog_start(0.2, 3))
        _exit(10);
    gd_watchdog_enter("allreduce", 17);
    sleep_s(30);
    _exit(11);
}

static void stall_peer(void)
{
    if (gd_watchdog_start(0.2, 1))
        _exit(10);
    gd_watchdog_enter_peer("recv of parameters", 5, 0);
    sleep_s(30);
    _exit(11);
}

/* Many short waits, and long pauses outside any wait: never a stall. */
static void steady_progress(void)
{
    if (gd_watchdog_start(0.5, 0))
        _exit(10);
    for (int i = 0; i < 200; i++) {
        gd_watchdog_enter("allreduce", i);
        sleep_s(0.001);
        gd_watchdog_leave();
    }
    sleep_s(1.0); /* computing, not communicating: not a stall */
    gd_watchdog_enter("allreduce", 200);
    gd_watchdog_leave();
    gd_watchdog_stop();
    _exit(0);
}

/* Timeout 0 turns it off: enter/leave do nothing and a long wait is left alone. */
static void turned_off(void)
{
    if (gd_watchdog_start(0, 0))
        _exit(10);
    gd_watchdog_enter("allreduce", 1);
    sleep_s(0.5);
    gd_watchdog_leave();
    gd_watchdog_stop();
    _exit(0);
}

/* Stop, then start again; a second start while one runs is an error. */
static void restart(void)
{
    if (gd_watchdog_start(0.2, 0))
        _exit(10);
    if (gd_watchdog_start(0.2, 0) == 0)
        _exit(12);
    gd_watchdog_stop();
    gd_watchdog_stop(); /* harmless */
    if (gd_watchdog_start(0.2, 0))
        _exit(13);
    gd_watchdog_enter("barrier", 2);
    sleep_s(30);
    _exit(11);
}

/* Frozen (SIGSTOP) for 2 s inside a wait with a 1 s timeout, then woken (SIGCONT, as
 * mpirun does before it ends a rank): the frozen time is not a stall of this rank. */
static void frozen_in_wait(void)
{
    if (gd_watchdog_start(1.0, 1))
        _exit(10);
    gd_watchdog_enter("allreduce", 9);
    raise(SIGSTOP); /* the parent lets it go on after 2 s */
    sleep_s(0.3);   /* still waiting a little after the wake-up: < the timeout */
    gd_watchdog_leave();
    gd_watchdog_stop();
    _exit(0);
}

/* A SIGTERM (as Slurm sends before the time limit) reaches the main thread, not the
 * watchdog thread, which blocks every signal. */
static volatile sig_atomic_t got_term;
static void on_term(int sig) { (void)sig; got_term = 1; }
static void signals_to_main(void)
{
    signal(SIGTERM, on_term);
    if (gd_watchdog_start(5, 0))
        _exit(10);
    kill(getpid(), SIGTERM);
    for (int i = 0; i < 100 && !got_term; i++)
        sleep_s(0.01);
    gd_watchdog_stop();
    _exit(got_term ? 0 : 14);
}

/* An MPI call that nothing brackets (as the profiling layer reports it), after a
 * bracketed wait at step 12 that returned: watched, at step 12, waiting for its peer. */
static void stall_unbracketed_call(void)
{
    if (gd_watchdog_start(0.2, 2))
        _exit(10);
    gd_watchdog_enter("allreduce of gradients", 12);
    gd_watchdog_leave();
    if (!gd_watchdog_enter_call("MPI_Recv", 0))
        _exit(12);
    sleep_s(30);
    _exit(11);
}

/* Inside a bracketed wait the call is not watched again: the bracket's name stays. */
static void stall_call_inside_bracket(void)
{
    if (gd_watchdog_start(0.2, 0))
        _exit(10);
    gd_watchdog_enter("the end-of-epoch verdict", 4);
    if (gd_watchdog_enter_call("MPI_Allreduce", -1))
        _exit(12);
    sleep_s(30);
    _exit(11);
}

/* Calls unwatched (an asynchronous rank's training): a long call is left alone, and once
 * they are watched again the next one is. */
static void calls_unwatched(void)
{
    if (gd_watchdog_start(0.2, 0))
        _exit(10);
    gd_watchdog_watch_calls(0);
    if (gd_watchdog_enter_call("MPI_Barrier", -1))
        _exit(12);
    sleep_s(1.0);
    gd_watchdog_watch_calls(1);
    if (!gd_watchdog_enter_call("MPI_Barrier", -1))
        _exit(13);
    gd_watchdog_leave();
    gd_watchdog_stop();
    if (gd_watchdog_enter_call("MPI_Barrier", -1)) /* stopped: nothing to watch with */
        _exit(14);
    _exit(0);
}

static void test_stall_in_collective_ends_process(void **state)
{
    (void)state;
    char err[1024];
    int status = run_child(stall_collective, 20, err, sizeof err);
    assert_int_equal(status, GD_WATCHDOG_EXIT);
    assert_non_null(strstr(err, "gdmpi: error: rank 3: no progress for "));
    assert_non_null(strstr(err, " s in allreduce at step 17; waiting for the other ranks "
                                "(stall_timeout)\n"));
}

static void test_stall_on_peer_names_it(void **state)
{
    (void)state;
    char err[1024];
    int status = run_child(stall_peer, 20, err, sizeof err);
    assert_int_equal(status, GD_WATCHDOG_EXIT);
    assert_non_null(strstr(err, "rank 1: no progress for "));
    assert_non_null(strstr(err, " s in recv of parameters at step 5; waiting for rank 0 "));
}

static void test_progress_is_not_a_stall(void **state)
{
    (void)state;
    char err[1024];
    assert_int_equal(run_child(steady_progress, 60, err, sizeof err), 0);
    assert_string_equal(err, "");
}

static void test_zero_timeout_is_off(void **state)
{
    (void)state;
    char err[1024];
    assert_int_equal(run_child(turned_off, 60, err, sizeof err), 0);
    assert_string_equal(err, "");
}

static void test_restart(void **state)
{
    (void)state;
    char err[1024];
    assert_int_equal(run_child(restart, 20, err, sizeof err), GD_WATCHDOG_EXIT);
    assert_non_null(strstr(err, "in barrier at step 2;"));
}

static void test_frozen_time_is_not_a_stall(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        frozen_in_wait();
    }
    close(fds[1]);
    int st;
    assert_int_equal(waitpid(pid, &st, WUNTRACED), pid);
    assert_true(WIFSTOPPED(st));
    sleep_s(2.0);
    kill(pid, SIGCONT);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    char err[1024];
    ssize_t n = read(fds[0], err, sizeof err - 1);
    err[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    assert_string_equal(err, "");
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_signals_reach_main_thread(void **state)
{
    (void)state;
    char err[1024];
    assert_int_equal(run_child(signals_to_main, 60, err, sizeof err), 0);
}

static void test_unbracketed_call_is_watched(void **state)
{
    (void)state;
    char err[1024];
    assert_int_equal(run_child(stall_unbracketed_call, 20, err, sizeof err), GD_WATCHDOG_EXIT);
    assert_non_null(strstr(err, "rank 2: no progress for "));
    assert_non_null(strstr(err, " s in MPI_Recv at step 12; waiting for rank 0 (stall_timeout)"));
}

static void test_call_inside_bracket_keeps_its_name(void **state)
{
    (void)state;
    char err[1024];
    assert_int_equal(run_child(stall_call_inside_bracket, 20, err, sizeof err), GD_WATCHDOG_EXIT);
    assert_non_null(strstr(err, " s in the end-of-epoch verdict at step 4; waiting for the other"));
}

static void test_calls_can_be_left_unwatched(void **state)
{
    (void)state;
    char err[1024];
    assert_int_equal(run_child(calls_unwatched, 60, err, sizeof err), 0);
    assert_string_equal(err, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stall_in_collective_ends_process),
        cmocka_unit_test(test_stall_on_peer_names_it),
        cmocka_unit_test(test_progress_is_not_a_stall),
        cmocka_unit_test(test_zero_timeout_is_off),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_frozen_time_is_not_a_stall),
        cmocka_unit_test(test_signals_reach_main_thread),
        cmocka_unit_test(test_unbracketed_call_is_watched),
        cmocka_unit_test(test_call_inside_bracket_keeps_its_name),
        cmocka_unit_test(test_calls_can_be_left_unwatched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
