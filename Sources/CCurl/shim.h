#ifndef ITV_CCURL_SHIM_H
#define ITV_CCURL_SHIM_H
#include <curl/curl.h>
#endif
