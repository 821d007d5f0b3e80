#ifndef ITV_CSYSTEMD_SHIM_H
#define ITV_CSYSTEMD_SHIM_H
#include <systemd/sd-journal.h>
#include <systemd/sd-daemon.h>
#endif
