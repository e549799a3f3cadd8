/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime, platform-independent part.  The generated C includes the platform
 * layer (user/ or linux/ stp_platform.h) first, then this header, then its own code,
 * then the platform's stp_backend.h, all as one translation unit.
 */
#ifndef STP_RUNTIME_H
#define STP_RUNTIME_H

#include "stp_core.h"
#include "stp_print.h"
#include "stp_stat.h"
#include "stp_map.h"
#include "stp_embedded.h"

#endif /* STP_RUNTIME_H */
