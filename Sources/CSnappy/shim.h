// snappy's C interface (Debian's libsnappy-dev): block-format compression for remote write.
#include <snappy-c.h>
