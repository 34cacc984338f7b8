/* host: the pp_host function table handed to every component. */
#ifndef PROFPIPE_HOST_H
#define PROFPIPE_HOST_H

#include <profpipe/plugin.h>

const pp_host *host_api(void);

#endif
