// The target functions of qa_test_klp's klp_test_support_mod, written for klpemu. SUSE's
// module exposes them as debugfs files; here a scenario calls them from kthreads or `call`
// steps. Every function is noinline with an orig_ prefix, as in the original, so a patch can
// replace any one of them while its callers and callees stay.
//
//   orig_active_livepatch_id_read()    -> orig_do_read_active_livepatch_id(): the id of the
//                                          live patch in effect (0: none; a patch returns its
//                                          test case number)
//   orig_sleep_uninterruptible_set(n)  -> orig_do_sleep(n): sleeps n scheduler rounds
//   orig_hog_cpu(n)                     n rounds of busy work with cond_resched() between
#include <linux/kernel.h>
#include <linux/sched.h>

// "none": the original has no patch id. Read through a volatile so that no caller can fold the
// value in at compile time (the whole point is that the call happens).
static volatile long livepatch_id;

noinline long orig_do_read_active_livepatch_id(void)
{
	return livepatch_id;
}

noinline long orig_active_livepatch_id_read(void)
{
	return orig_do_read_active_livepatch_id();
}

noinline long orig_do_sleep(long rounds)
{
	long slept = 0;

	while (slept < rounds) {
		schedule();
		slept++;
	}
	return slept;
}

noinline long orig_sleep_uninterruptible_set(long rounds)
{
	return orig_do_sleep(rounds) + 1;
}

noinline long orig_hog_cpu(long rounds)
{
	volatile long work = 0;
	long i, j;

	for (i = 0; i < rounds; i++) {
		for (j = 0; j < 32; j++)
			work += j;
		cond_resched();
	}
	return work;
}
