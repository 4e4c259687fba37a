// test-state.sh's third livepatch: test_klp_state2.c built under another module name (state 1,
// version 2), so that two patches of the same state version can replace each other.
#include "test_klp_state2.c"
