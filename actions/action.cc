// The vtables of the interfaces in action.h and metrics_sink.h live here (their first non-inline
// member is the destructor, which is defaulted in the class: this file anchors them in the
// library).
#include "actions/action.h"

#include "actions/metrics_sink.h"
