/* khien.h - the umbrella header of libkhien, the Khiên scanning engine. */
#ifndef KHIEN_H
#define KHIEN_H
#include "error.h"
#include <khien/version.h>
#include "engine.h"
#include "scan.h"
#include "quarantine.h"
#include "update.h"
#include "net.h"
#endif
