/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * libmpflow, the client library of the mpflow flow-rule service.
 *
 * This release provides the rule model (mpflow/flow.h): the types of rte_flow
 * rules, their default masks and names. The connection and rule API
 * (mpf_connect, mpf_flow_create, ...) arrives with the primary (mpflowd).
 *
 * Thread safety: every function declared so far is pure or reads constant
 * data, and may be called from any thread.
 */
#ifndef MPFLOW_MPFLOW_H
#define MPFLOW_MPFLOW_H

#include <mpflow/flow.h>

#endif
