#ifndef ITV_CLIBSSH2_SHIM_H
#define ITV_CLIBSSH2_SHIM_H
#include <libssh2.h>
#endif
