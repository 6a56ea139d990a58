/*
 * Named functions that ask for CAP_SYS_NICE: the user stack must show them.
 * The system call is made here, not in libc, so that the innermost frame is
 * ours (frame-pointer unwinding cannot see the caller of a leaf function
 * that keeps no frame, such as libc's setpriority wrapper).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((noinline)) long loupe_test_raise_priority(void)
{
	long ret;

	asm volatile("syscall"
		     : "=a"(ret)
		     : "0"((long)SYS_setpriority), "D"((long)PRIO_PROCESS), "S"(0L), "d"(-20L)
		     : "rcx", "r11", "memory");
	return ret;
}

__attribute__((noinline)) int loupe_test_caller(int n)
{
	int denied = 0;

	for (int i = 0; i < n; i++)
		if (loupe_test_raise_priority() == -EACCES)
			denied++;
	return denied;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	int denied = loupe_test_caller(n);

	printf("%d denied\n", denied);
	fflush(stdout);
	/* Stay a moment so that /proc/PID/maps is there when loupe symbolizes. */
	if (argc > 2)
		usleep(atoi(argv[2]) * 1000);
	return 0;
}
